import type {
	IDataObject,
	IHookFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { DataFileScanner, summarizeDataFile } from './helpers/dataFile';
import { digestMatches, secretMatches, sha256Hex } from './intake/authenticity';
import { readReportBody } from './intake/reportBody';

const MEGABYTE = 1024 * 1024;

interface TriggerOptions {
	binaryFile?: boolean;
	binaryPropertyName?: string;
	maxBodySizeMb?: number;
	deduplicate?: boolean;
	deduplicateWindowMinutes?: number;
}

type RawRequest = {
	body?: unknown;
	rawBody?: Buffer;
	readRawBody?: () => Promise<void>;
	headers: Record<string, string | string[] | undefined>;
	query: Record<string, unknown>;
};

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
					'Run a Copernica Data Request "Create" with this node\'s Test URL (plus ?secret=...) as Report; when the sandbox or Copernica posts the file, it shows here. Activate the workflow to receive files on the Production URL.',
				active:
					'The workflow is active: every data request file posted to the Production URL (with the secret) starts an execution. Find them under Executions.',
			},
			activationHint:
				'Once you are happy with the workflow, activate it and put its Production URL (plus ?secret=...) in the Report field of your Create operations.',
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
					'Open Webhook URLs above, choose Production URL and copy it into the "Report" field of a Copernica Data Request node (Create operation), or reference it there with an expression. When the file is ready, Copernica posts it here and this workflow starts. If you set a secret below, add it to the URL as <code>?secret=...</code>. Other parameters you add to the URL (such as <code>&ticket=123</code>) come out of this node under "query", so you can match the file to its ticket.',
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
				description:
					'A long random value that only Copernica gets, as the "secret" query parameter of the report URL. Requests without it, or with another value, are refused (401) and start nothing. Strongly recommended: without it anyone who knows the URL can start this workflow.',
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add option',
				default: {},
				options: [
					{
						displayName: 'Ignore Repeated Deliveries',
						name: 'deduplicate',
						type: 'boolean',
						default: false,
						description:
							'Whether a file that arrives again (same content) within the window below is accepted without starting the workflow a second time',
					},
					{
						displayName: 'Maximum File Size (MB)',
						name: 'maxBodySizeMb',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 256,
						description:
							'Larger requests are refused (413) and start nothing. n8n has its own limit too (N8N_PAYLOAD_SIZE_MAX, 16 MB by default): raise it for large files.',
					},
					{
						displayName: 'Put Output File in Field',
						name: 'binaryPropertyName',
						type: 'string',
						default: 'data',
						displayOptions: { show: { binaryFile: [true] } },
						hint: 'The name of the output binary field to put the file in',
					},
					{
						displayName: 'Repeat Window (Minutes)',
						name: 'deduplicateWindowMinutes',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 1440,
						displayOptions: { show: { deduplicate: [true] } },
						description: 'How long a delivered file is remembered',
					},
					{
						displayName: 'Return File As Binary',
						name: 'binaryFile',
						type: 'boolean',
						default: false,
						description:
							'Whether to put the file in a binary field (to attach it to a reply) and only a summary in the item. Use this for large files.',
					},
				],
			},
		],
	};

	// Nothing is registered at Copernica: the URL travels with each data request as `report`.
	webhookMethods = {
		default: {
			async checkExists(this: IHookFunctions): Promise<boolean> {
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
		const request = this.getRequestObject() as unknown as RawRequest;
		const options = this.getNodeParameter('options', {}) as TriggerOptions;
		const refuse = (status: number, reason: string): IWebhookResponseData => {
			this.getResponseObject().status(status).json({ error: reason });
			return { noWebhookResponse: true };
		};

		const secret = this.getNodeParameter('secret', '') as string;
		if (secret !== '' && !secretMatches(request.query.secret, secret)) {
			return refuse(401, 'Missing or wrong secret');
		}

		const maxBytes = (options.maxBodySizeMb ?? 256) * MEGABYTE;
		const declaredLength = Number(request.headers['content-length']);
		if (declaredLength > maxBytes) return refuse(413, `The body is larger than ${options.maxBodySizeMb ?? 256} MB`);
		if (request.rawBody === undefined && typeof request.readRawBody === 'function') await request.readRawBody();
		const rawBody = request.rawBody;
		const contentLength = rawBody?.length ?? (Number.isFinite(declaredLength) ? declaredLength : 0);
		if (contentLength > maxBytes) return refuse(413, `The body is larger than ${options.maxBodySizeMb ?? 256} MB`);

		if (rawBody !== undefined) {
			const digestHeader = request.headers.digest;
			const digestOk = digestMatches(Array.isArray(digestHeader) ? digestHeader[0] : digestHeader, rawBody);
			if (digestOk === false) return refuse(401, 'The Digest header does not match the body');
		}

		const report = readReportBody(request.body, rawBody);
		if ('problem' in report) return refuse(400, `Not a data request file: ${report.problem}`);

		if (options.deduplicate) {
			const key = sha256Hex(report.bytes);
			if (isRepeatedDelivery(this.getWorkflowStaticData('node'), key, options.deduplicateWindowMinutes ?? 1440)) {
				return { webhookResponse: { received: true, duplicate: true } };
			}
		}

		const receivedAt = new Date().toISOString();
		// Parameters the workflow put in the report URL (a ticket number, say), without the secret.
		const { secret: _secret, ...query } = request.query ?? {};
		const info = { ...report.file.info };
		let item: INodeExecutionData;
		if (options.binaryFile) {
			const bytes = report.bytes;
			const binary = await this.helpers.prepareBinaryData(bytes, 'data.json', 'application/json');
			const scanner = new DataFileScanner();
			scanner.write(bytes);
			const { summary } = scanner.result();
			item = {
				json: { info, summary, receivedAt, contentLength, query: query as IDataObject },
				binary: { [options.binaryPropertyName || 'data']: binary },
			};
		} else {
			item = {
				json: {
					info,
					data: report.file.data as IDataObject[],
					summary: summarizeDataFile(report.file, contentLength),
					receivedAt,
					contentLength,
					query: query as IDataObject,
				},
			};
		}
		return { workflowData: [[item]], webhookResponse: { received: true } };
	}
}

/**
 * Remembers delivered files (by content hash) in the workflow's static data, which n8n stores
 * with the workflow after a production execution. Returns true when the file was seen within
 * the window; otherwise records it.
 */
function isRepeatedDelivery(staticData: IDataObject, key: string, windowMinutes: number): boolean {
	const now = Date.now();
	const seen = (staticData.deliveries ?? {}) as Record<string, number>;
	for (const [hash, at] of Object.entries(seen)) {
		if (now - at > windowMinutes * 60_000) delete seen[hash];
	}
	const repeated = seen[key] !== undefined;
	if (!repeated) seen[key] = now;
	staticData.deliveries = seen;
	return repeated;
}
