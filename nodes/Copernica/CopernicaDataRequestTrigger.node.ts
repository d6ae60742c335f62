import type {
	IDataObject,
	IHookFunctions,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import type { KeyObject } from 'crypto';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';

import { binaryPropertyOf, DEFAULT_RETURN_AS, fileNameFor, fileParameters, type ReturnAs } from './helpers/fileParameters';
import { deliveryKey } from './helpers/deliveryKey';
import { DEFAULT_MAX_FILE_MB, fileItem, isRefusal, receiveReport, refuse, secretMatches, secretProblem } from './intake';
import { publicKeyFromDnsTxt, publicKeyFromText, txtRecordsOf } from './intake/signature';

const MEGABYTE = 1024 * 1024;

interface TriggerOptions {
	copernicaAccountId?: string;
	maxBodySizeMb?: number;
	requireSignature?: boolean;
	signatureKey?: string;
	signatureKeyLookupUrl?: string;
}

const DEFAULT_KEY_LOOKUP_URL = 'https://dns.google/resolve';
// Copernica rotates its signing keys monthly: a key found is used for an hour at most.
const KEY_CACHE_MS = 3_600_000;
const keyCache = new Map<string, { key: KeyObject; until: number }>();

export class CopernicaDataRequestTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Copernica Data Request Trigger',
		name: 'copernicaDataRequestTrigger',
		icon: { light: 'file:copernica.svg', dark: 'file:copernica.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: 'Data request file',
		// n8n shows this text for the whole package in the nodes panel, so it says what both nodes do.
		description: "Request a person's data from Copernica (GDPR right of access) and receive the file",
		eventTriggerDescription: 'Waiting for Copernica to deliver a data request file',
		triggerPanel: {
			header: 'Waiting for a data request file',
			executionsHelp: {
				inactive:
					'Copernica delivers files to the Production URL, and only while this workflow is active (n8n 2.x: published). Publish or activate the workflow, then use its Production URL with ?secret=... as the Report of a Copernica Data Request node. The Test URL listens for a few minutes only: too short for Copernica, which can take hours.',
				active:
					'The workflow is active: every data request file that Copernica posts to the Production URL (with the secret) starts an execution. Find them under Executions.',
			},
			activationHint:
				'Once the workflow is ready, publish it (n8n 1.x: activate it) and put its Production URL, with ?secret=..., in the Report field of your Create operations.',
		},
		defaults: { name: 'Copernica Data Request Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				responseMode: 'onReceived',
				// Empty, so that n8n answers with the webhookResponse this node returns.
				responseData: '',
				path: 'copernica-data-request',
			},
		],
		properties: [
			{
				displayName:
					'This workflow starts when Copernica delivers the file of a data request (everything it holds on a person). Copy the Production URL from Webhook URLs above, add <code>?secret=</code> and the secret below, and use it as the Report of a Copernica Data Request node (Create). Add your own parameters, such as <code>&ticket=123</code>, to match the file to its ticket: they come out under "query". The file is personal data: see "Return File As" for what n8n keeps in its execution history.',
				name: 'notice',
				type: 'notice',
				default: '',
			},
			{
				displayName: 'Secret',
				name: 'secret',
				type: 'string',
				typeOptions: { password: true },
				default: '',
				required: true,
				description:
					'A random value of at least 24 characters that only Copernica gets, as the "secret" query parameter of the report URL. Requests without it, or with another value, are refused (401) and start nothing. The workflow cannot be activated without one.',
			},
			...fileParameters(),
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add option',
				// binaryData: n8n then leaves the request body unread, for the node to stream (intake/index.ts).
				default: { binaryData: true },
				options: [
					{
						displayName: 'Copernica Account ID',
						name: 'copernicaAccountId',
						type: 'string',
						default: '',
						description:
							'Your Copernica account\'s ID: deliveries whose X-Copernica-ID header names another account are refused (401). Empty: not checked.',
					},
					{
						displayName: 'Copernica Public Key',
						name: 'signatureKey',
						type: 'string',
						typeOptions: { rows: 3 },
						default: '',
						description:
							'For instances that cannot look the key up: Copernica\'s public key (PEM, or the p= value of its DNS record). Empty: the key is looked up by its name in DNS, through the Key Lookup URL.',
					},
					{
						displayName: 'Key Lookup URL',
						name: 'signatureKeyLookupUrl',
						type: 'string',
						default: DEFAULT_KEY_LOOKUP_URL,
						description:
							'A DNS-over-HTTPS service that answers JSON (?name=...&type=TXT), used to find the public key a Copernica signature names',
					},
					{
						displayName: 'Maximum File Size (MB)',
						name: 'maxBodySizeMb',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 512, // DEFAULT_MAX_FILE_MB.binary
						description:
							`Larger requests are refused (413) as soon as the limit is passed, and start nothing. Without this option: ${DEFAULT_MAX_FILE_MB.binary} MB for a binary file (it streams to n8n's binary store), ${DEFAULT_MAX_FILE_MB.json} MB with the file in the item (JSON), which n8n holds in memory several times over. n8n's own limit (N8N_PAYLOAD_SIZE_MAX) does not apply: the node reads the file itself.`,
					},
					{
						displayName: 'Require Copernica Signature',
						name: 'requireSignature',
						type: 'boolean',
						default: false,
						description:
							'Whether to refuse deliveries that carry no Copernica signature. A signature that is there is always checked (its key, date, digest and the signature itself), and a wrong one refused. Copernica does not document whether data request reports are signed: turn this on once you have seen signed deliveries arrive.',
					},
					{
						displayName: 'Stream Body',
						name: 'binaryData',
						type: 'hidden',
						default: true,
						description: 'Whether n8n leaves the request body for the node to read as it arrives',
					},
				],
			},
		],
	};

	// Nothing is registered at Copernica: the URL travels with each data request as `report`.
	// n8n asks checkExists whenever it registers the webhook (activation, publishing, listening
	// for a test event): an unsafe secret stops that with an error the editor shows.
	webhookMethods = {
		default: {
			async checkExists(this: IHookFunctions): Promise<boolean> {
				const problem = secretProblem(this.getNodeParameter('secret', ''));
				if (problem !== undefined) throw new NodeOperationError(this.getNode(), problem);
				return true;
			},
			async create(this: IHookFunctions): Promise<boolean> {
				return true;
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const options = this.getNodeParameter('options', {}) as TriggerOptions;
		const returnAs = this.getNodeParameter('returnAs', DEFAULT_RETURN_AS) as ReturnAs;
		// The trigger does not know the request's ID: the file is named after its arrival.
		const receivedAt = new Date();
		const secret = this.getNodeParameter('secret', '') as string;
		const received = await receiveReport.call(this, {
			// A trigger with an unsafe secret is not activated; should one run anyway, it lets nothing in.
			authenticate: (query) =>
				secretProblem(secret) === undefined && secretMatches(query.secret, secret.trim()) ? undefined : 'Missing or wrong secret',
			maxBytes: options.maxBodySizeMb === undefined ? undefined : options.maxBodySizeMb * MEGABYTE,
			accountId: options.copernicaAccountId?.trim() || undefined,
			returnAs,
			fileName: fileNameFor(receivedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[:]/g, '')),
			signature: {
				required: options.requireSignature === true,
				key: async (keyId, fresh) => await signingKeyOf.call(this, keyId, fresh, options),
			},
		});
		if (isRefusal(received)) return refuse(this, received);

		// Parameters the workflow put in the report URL (a ticket number, say), without the secret.
		const { secret: _secret, ...query } = received.query;
		const item = fileItem(received, binaryPropertyOf(this.getNodeParameter('binaryPropertyName', '')), {
			receivedAt: receivedAt.toISOString(),
			query: query as IDataObject,
			deliveryKey: deliveryKey(received.fileSha256, query),
		});
		return { workflowData: [[item]], webhookResponse: { received: true } };
	}
}

/** The public key a signature names: the one pasted in the options, or Copernica's DNS record. */
async function signingKeyOf(
	this: IWebhookFunctions,
	keyId: string,
	fresh: boolean,
	options: TriggerOptions,
): Promise<KeyObject | undefined> {
	if (options.signatureKey) return fresh ? undefined : publicKeyFromText(options.signatureKey);
	const lookupUrl = options.signatureKeyLookupUrl || DEFAULT_KEY_LOOKUP_URL;
	const cacheKey = `${lookupUrl} ${keyId}`;
	const cached = keyCache.get(cacheKey);
	if (!fresh && cached && cached.until > Date.now()) return cached.key;
	let answer: unknown;
	try {
		answer = await this.helpers.httpRequest({
			method: 'GET',
			url: lookupUrl,
			qs: { name: keyId, type: 'TXT' },
			headers: { accept: 'application/dns-json' },
			json: true,
			timeout: 10_000,
		});
	} catch {
		return undefined;
	}
	if (typeof answer === 'string') {
		try {
			answer = JSON.parse(answer);
		} catch {
			return undefined;
		}
	}
	const key = txtRecordsOf(answer)
		.map((txt) => publicKeyFromDnsTxt(txt))
		.find((found) => found !== undefined);
	if (key !== undefined) keyCache.set(cacheKey, { key, until: Date.now() + KEY_CACHE_MS });
	return key;
}
