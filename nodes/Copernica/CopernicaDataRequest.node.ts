import type {
	IExecuteFunctions,
	IHookFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import * as create from './actions/create.operation';
import * as createAndWait from './actions/createAndWait.operation';
import * as findPerson from './actions/findPerson.operation';
import * as get from './actions/get.operation';
import { router } from './actions/router';

export class CopernicaDataRequest implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Copernica Data Request',
		name: 'copernicaDataRequest',
		icon: { light: 'file:copernica.svg', dark: 'file:copernica.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle:
			'={{ $parameter["operation"] === "create" ? "Create data request" : $parameter["operation"] === "createAndWait" ? "Create and wait for the file" : $parameter["operation"] === "findPerson" ? "Find person by email" : "Get data request" }}',
		description: 'Ask Copernica for everything it holds on a person (GDPR right of access) and fetch the file',
		defaults: { name: 'Copernica Data Request' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'copernicaApi', required: true }],
		// Create and Wait: Copernica's report POST to the execution's resume URL continues it.
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				responseMode: 'onReceived',
				// Empty, so that n8n answers with the webhookResponse the node returns.
				responseData: '',
				path: '',
				restartWebhook: true,
			},
		],
		waitingNodeTooltip: 'Waiting for Copernica to post the data request file to this execution',
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'Create',
						value: 'create',
						action: 'Create a data request',
						description: 'Ask Copernica to assemble everything it holds on a person. Returns the request ID and the GDPR due date.',
					},
					{
						name: 'Create and Wait',
						value: 'createAndWait',
						// It pauses the whole execution, which an AI agent's tool call cannot do.
						displayOptions: { hide: { '@tool': [true] } },
						action: 'Create a data request and wait for the file',
						description:
							'Create the data request, then pause this execution until Copernica delivers the file, and continue with it. One item per execution.',
					},
					{
						name: 'Find Person',
						value: 'findPerson',
						action: 'Find every profile and subprofile of an email address',
						description:
							'Search every database and collection for an email address: one item per profile and subprofile found, with their IDs for a data request each. Nothing found gives one item with found "nothing".',
					},
					{
						name: 'Get',
						value: 'get',
						action: 'Get a data request',
						description: 'Check whether the file is ready and, if it is, return it',
					},
				],
				default: 'create',
			},
			...create.description,
			...createAndWait.description,
			...get.description,
			...findPerson.description,
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add option',
				// binaryData: n8n then leaves a resume POST's body unread, for Create and Wait to stream (intake/index.ts).
				default: { binaryData: true },
				options: [
					{
						displayName: 'Concurrency',
						name: 'concurrency',
						type: 'number',
						typeOptions: { minValue: 1, maxValue: 100 },
						default: 50,
						displayOptions: { show: { '/operation': ['create', 'get', 'findPerson'] } },
						description:
							'The most calls to Copernica at the same time. The node starts with 4 and sends more while Copernica answers quickly; when it answers "too many requests" (429), is unavailable (503) or slows down, the node at once sends fewer. The output keeps the order of the input. 1 handles one item after the other.',
					},
					{
						displayName: 'Continue Without the File After (Hours)',
						name: 'maxWaitHours',
						type: 'number',
						typeOptions: { minValue: 0.01, numberPrecision: 2 },
						default: 24,
						displayOptions: { show: { '/operation': ['createAndWait'] } },
						description:
							'If Copernica has not delivered the file by then, the execution goes on with status "pending" and the request ID, so that a Get can fetch the file later. n8n checks waiting executions about once a minute.',
					},
					{
						displayName: 'Database Names or IDs',
						name: 'databaseIds',
						type: 'multiOptions',
						typeOptions: { loadOptionsMethod: 'getDatabases' },
						default: [],
						displayOptions: { show: { '/operation': ['findPerson'] } },
						description:
							'Search only these databases (and their collections). Empty: every database, archived ones included. Choose from the list, or specify IDs using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
					},
					{
						displayName: 'Fail If Not Available',
						name: 'failIfNotAvailable',
						type: 'boolean',
						default: false,
						displayOptions: { show: { '/operation': ['get'] } },
						description:
							'Whether to fail the item when Copernica has no file for the ID (unknown, or expired), instead of outputting it with status "not available". Use it where a mistyped ID must not pass unnoticed.',
					},
					{
						displayName: 'First Check Interval (Seconds)',
						name: 'pollIntervalSeconds',
						type: 'number',
						typeOptions: { minValue: 0.1, numberPrecision: 1 },
						default: 1,
						displayOptions: { show: { '/operation': ['get'], '/waitForFile': [true] } },
						description:
							'How long to wait after the first check before checking again. Each further wait is twice as long, up to the maximum check interval.',
					},
					{
						displayName: 'Include Field Values',
						name: 'includeFields',
						type: 'boolean',
						default: true,
						displayOptions: { show: { '/operation': ['findPerson'] } },
						description:
							'Whether each item carries the profile\'s or subprofile\'s fields (name, address, ...). Turn it off to keep personal data out of the stored execution when only the IDs are needed.',
					},
					{
						displayName: 'Maximum Check Interval (Seconds)',
						name: 'maxPollIntervalSeconds',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 60,
						displayOptions: { show: { '/operation': ['get'], '/waitForFile': [true] } },
						description:
							'The longest wait between two checks. A longer interval costs fewer API calls on long waits; the file is then noticed up to this much later.',
					},
					{
						displayName: 'Request Received At',
						name: 'requestReceivedAt',
						type: 'dateTime',
						default: '',
						displayOptions: { show: { '/operation': ['create', 'createAndWait'] } },
						description:
							'When the person\'s request reached you (the ticket\'s creation time, say). The one-month deadline (dueBy) counts from that day, in the workflow\'s time zone. Empty: now.',
					},
					{
						displayName: 'Retries',
						name: 'retries',
						type: 'number',
						typeOptions: { minValue: 0, maxValue: 10 },
						default: 3,
						description:
							'How many times to try a call again after a temporary fault (Copernica busy or rate limiting, a dropped connection, a timeout), waiting a little longer each time. A create is tried again only when Copernica cannot have received it, so that no duplicate data request is made. 0 turns retrying off.',
					},
					{
						displayName: 'Stream Body',
						name: 'binaryData',
						type: 'hidden',
						default: true,
						description: 'Whether n8n leaves the body of a resume POST for the node to read as it arrives',
					},
					{
						displayName: 'Timeout (Seconds)',
						name: 'timeout',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 120,
						description:
							'How long to wait for Copernica to start answering (and between parts of a large download) before the call counts as failed',
					},
				],
			},
		],
	};

	methods = {
		loadOptions: {
			getDatabases: findPerson.getDatabases,
		},
	};

	// Required by n8n's lint for any node with webhooks. The only one here is the resume URL of a
	// waiting execution, which n8n routes itself: nothing is registered, at n8n or at Copernica.
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

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		return await createAndWait.webhook.call(this);
	}
}
