/**
 * Self-test of the engine harness: inline node and credential types run through n8n-core's real
 * WorkflowExecute / WebhookContext, against small HTTP servers on 127.0.0.1.
 */
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
	ICredentialType,
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';

import {
	ITEMS_NODE_TYPE,
	MANUAL_TRIGGER_TYPE,
	NOOP_NODE_TYPE,
	callWebhook,
	cleanupEngine,
	getBinaryBuffer,
	getWebhookUrl,
	logLines,
	resumeAfterWaitTill,
	resumeWorkflow,
	runWorkflow,
	startWaitingWebhookServer,
	startWebhookServer,
} from './harness';
import type { WorkflowInput } from './harness';

const TOKEN = 'tok-secret-0123456789';

// ---------------------------------------------------------------------------------------------
// Inline credential and node types
// ---------------------------------------------------------------------------------------------

class TestApi implements ICredentialType {
	name = 'testApi';

	displayName = 'Test API';

	properties = [
		{
			displayName: 'Access Token',
			name: 'accessToken',
			type: 'string' as const,
			typeOptions: { password: true },
			default: '',
		},
		{ displayName: 'API Version', name: 'apiVersion', type: 'string' as const, default: 'v1' },
		{ displayName: 'Base URL', name: 'baseUrl', type: 'string' as const, default: '' },
	];

	authenticate = {
		type: 'generic' as const,
		properties: { qs: { access_token: '={{$credentials.accessToken}}' } },
	};
}

class ApiCall implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Api Call',
		name: 'apiCall',
		group: ['transform'],
		version: 1,
		description: 'Calls the test API once per item',
		defaults: { name: 'Api Call' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'testApi', required: true }],
		properties: [{ displayName: 'Email', name: 'email', type: 'string', default: '' }],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const credentials = await this.getCredentials('testApi');
		const out: INodeExecutionData[] = [];
		for (let i = 0; i < items.length; i++) {
			try {
				const email = this.getNodeParameter('email', i) as string;
				const response = (await this.helpers.httpRequestWithAuthentication.call(this, 'testApi', {
					method: 'GET',
					url: `${credentials.baseUrl as string}/${credentials.apiVersion as string}/profile`,
					qs: { email },
					json: true,
				})) as IDataObject;
				out.push({ json: response, pairedItem: { item: i } });
			} catch (error) {
				if (this.continueOnFail()) {
					out.push({ json: { error: (error as Error).message }, pairedItem: { item: i } });
					continue;
				}
				if (error instanceof NodeApiError) throw error;
				throw new NodeApiError(this.getNode(), error as JsonObject, { itemIndex: i });
			}
		}
		return [out];
	}
}

class MakeFile implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Make File',
		name: 'makeFile',
		group: ['transform'],
		version: 1,
		description: 'Produces a binary file per item',
		defaults: { name: 'Make File' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		properties: [{ displayName: 'Text', name: 'text', type: 'string', default: '' }],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const out: INodeExecutionData[] = [];
		for (let i = 0; i < items.length; i++) {
			const text = this.getNodeParameter('text', i) as string;
			const data = await this.helpers.prepareBinaryData(Buffer.from(text), `file-${i}.txt`, 'text/plain');
			out.push({ json: { index: i }, binary: { data }, pairedItem: { item: i } });
		}
		return [out];
	}
}

class ReadFile implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Read File',
		name: 'readFile',
		group: ['transform'],
		version: 1,
		description: 'Reads the binary of each item back',
		defaults: { name: 'Read File' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		properties: [],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const out: INodeExecutionData[] = [];
		for (let i = 0; i < items.length; i++) {
			const buffer = await this.helpers.getBinaryDataBuffer(i, 'data');
			const binary = this.helpers.assertBinaryData(i, 'data');
			let streamed = '';
			if (binary.id) {
				const stream = await this.helpers.getBinaryStream(binary.id);
				streamed = (await this.helpers.binaryToBuffer(stream)).toString('utf8');
			}
			out.push({ json: { content: buffer.toString('utf8'), streamed }, pairedItem: { item: i } });
		}
		return [out];
	}
}

/** Trigger: checks an HMAC of the raw body, emits the report as a binary file. */
class ReportTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Report Trigger',
		name: 'reportTrigger',
		group: ['trigger'],
		version: 1,
		description: 'Receives reports',
		defaults: { name: 'Report Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		webhooks: [{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: 'report' }],
		properties: [{ displayName: 'Secret', name: 'secret', type: 'string', default: '' }],
	};

	webhookMethods = {
		default: {
			async checkExists(): Promise<boolean> {
				return false;
			},
			async create(): Promise<boolean> {
				return true;
			},
			async delete(): Promise<boolean> {
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const req = this.getRequestObject();
		const secret = this.getNodeParameter('secret') as string;
		const expected = createHmac('sha256', secret).update(req.rawBody).digest('hex');
		if (req.headers['x-signature'] !== expected) {
			this.getResponseObject().status(401).json({ message: 'Invalid signature' });
			return { noWebhookResponse: true };
		}
		const body = this.getBodyData();
		const file = await this.helpers.prepareBinaryData(req.rawBody, 'report.json', 'application/json');
		return {
			workflowData: [
				[{ json: { id: body.id, url: this.getNodeWebhookUrl('default') }, binary: { data: file } }],
			],
		};
	}
}

/** Puts the execution to wait and resumes on a POST to its resume URL. */
class WaitForCallback implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Wait For Callback',
		name: 'waitForCallback',
		group: ['transform'],
		version: 1,
		description: 'Waits for a callback',
		defaults: { name: 'Wait For Callback' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				responseMode: 'onReceived',
				responseData: 'noData',
				path: '',
				restartWebhook: true,
			},
		],
		properties: [],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const resumeUrl = this.evaluateExpression('{{ $execution.resumeUrl }}', 0) as string;
		await this.putExecutionToWait(new Date(Date.now() + 60_000));
		return [this.getInputData().map((item, i) => ({ json: { ...item.json, resumeUrl }, pairedItem: { item: i } }))];
	}

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		return { workflowData: [[{ json: { resumed: true, body: this.getBodyData() } }]] };
	}
}

const nodeTypes = {
	'test.apiCall': new ApiCall(),
	'test.makeFile': new MakeFile(),
	'test.readFile': new ReadFile(),
	'test.waitForCallback': new WaitForCallback(),
	'test.reportTrigger': new ReportTrigger(),
};

// ---------------------------------------------------------------------------------------------
// A small API server
// ---------------------------------------------------------------------------------------------

let api: Server;
let apiUrl: string;
const apiRequests: URL[] = [];

beforeAll(async () => {
	api = createServer((req: IncomingMessage, res: ServerResponse) => {
		const url = new URL(req.url ?? '/', 'http://127.0.0.1');
		apiRequests.push(url);
		if (url.searchParams.get('access_token') !== TOKEN) {
			res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
		} else if (url.searchParams.get('email') === 'missing@example.com') {
			res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such profile"}');
		} else {
			res
				.writeHead(200, { 'content-type': 'application/json' })
				.end(JSON.stringify({ path: url.pathname, email: url.searchParams.get('email') }));
		}
	});
	await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
	apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});

afterAll(async () => {
	await new Promise<void>((resolve) => api.close(() => resolve()));
	await cleanupEngine();
});

beforeEach(() => {
	apiRequests.length = 0;
});

function apiWorkflow(emails: string[], settings: IDataObject = {}): WorkflowInput {
	return {
		nodes: [
			{ name: 'Start', type: MANUAL_TRIGGER_TYPE, parameters: {} },
			{
				name: 'Items',
				type: ITEMS_NODE_TYPE,
				parameters: { items: JSON.stringify(emails.map((email) => ({ email }))) },
			},
			{ name: 'Api Call', type: 'test.apiCall', parameters: { email: '={{ $json.email }}' }, ...settings },
		],
		connections: {
			Start: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
			Items: { main: [[{ node: 'Api Call', type: 'main', index: 0 }]] },
		},
	};
}

const credentialOptions = () => ({
	nodeTypes,
	credentials: { testApi: { accessToken: TOKEN, baseUrl: apiUrl } },
	credentialTypes: [new TestApi()],
});

// ---------------------------------------------------------------------------------------------

describe('runWorkflow', () => {
	it('runs several items with expressions and sends the token from the credential in the query string', async () => {
		const result = await runWorkflow(apiWorkflow(['a@example.com', 'b@example.com', 'c@example.com']), credentialOptions());

		expect(result.status).toBe('success');
		expect(result.finished).toBe(true);
		expect(result.nodeExecutionOrder).toEqual(['Start', 'Items', 'Api Call']);
		expect(result.outputOf('Api Call').map((item) => item.json)).toEqual([
			{ path: '/v1/profile', email: 'a@example.com' },
			{ path: '/v1/profile', email: 'b@example.com' },
			{ path: '/v1/profile', email: 'c@example.com' },
		]);
		expect(result.outputOf('Api Call').map((item) => item.pairedItem)).toEqual([
			{ item: 0 },
			{ item: 1 },
			{ item: 2 },
		]);
		expect(apiRequests).toHaveLength(3);
		for (const url of apiRequests) expect(url.searchParams.get('access_token')).toBe(TOKEN);
		// The credential's default (apiVersion 'v1') was applied.
		expect(apiRequests[0].pathname).toBe('/v1/profile');
		// Token-leak check material: logs were collected, and none holds the token.
		expect(result.logLines.length).toBeGreaterThan(0);
		expect(logLines.filter((line) => line.text.includes(TOKEN))).toEqual([]);
	});

	it('fails the execution with a NodeApiError when continue-on-fail is off', async () => {
		const result = await runWorkflow(apiWorkflow(['a@example.com', 'missing@example.com']), credentialOptions());

		expect(result.status).toBe('error');
		expect(result.error?.name).toBe('NodeApiError');
		expect(result.errorOf('Api Call')?.name).toBe('NodeApiError');
		expect(result.errorOf('Api Call')?.message).toMatch(/could not be found/);
		expect(() => result.outputOf('Api Call')).toThrow(/failed/);
		expect(logLines.filter((line) => line.text.includes(TOKEN))).toEqual([]);
	});

	it.each([
		['onError: continueRegularOutput', { onError: 'continueRegularOutput' }],
		['continueOnFail: true', { continueOnFail: true }],
	])('continues with an error item under %s', async (_label, settings) => {
		const result = await runWorkflow(
			apiWorkflow(['a@example.com', 'missing@example.com', 'c@example.com'], settings),
			credentialOptions(),
		);

		expect(result.status).toBe('success');
		const output = result.outputOf('Api Call');
		expect(output).toHaveLength(3);
		expect(output[0].json.email).toBe('a@example.com');
		expect(output[1].json.error).toMatch(/could not be found/);
		expect(output[2].json.email).toBe('c@example.com');
	});

	it('routes error items to the error output under onError: continueErrorOutput', async () => {
		const result = await runWorkflow(
			apiWorkflow(['a@example.com', 'missing@example.com'], { onError: 'continueErrorOutput' }),
			credentialOptions(),
		);

		expect(result.outputOf('Api Call', 0).map((i) => i.json.email)).toEqual(['a@example.com']);
		expect(result.outputOf('Api Call', 1)).toHaveLength(1);
		expect(result.outputOf('Api Call', 1)[0].json.error).toMatch(/could not be found/);
	});

	it('refuses credentials whose credential type was not given', async () => {
		await expect(
			runWorkflow(apiWorkflow(['a@example.com']), { nodeTypes, credentials: { testApi: { accessToken: 'x' } } }),
		).rejects.toThrow(/credentialTypes/);
	});

	it.each(['default', 'filesystem'] as const)('stores and reads back binary data in %s mode', async (mode) => {
		const result = await runWorkflow(
			{
				nodes: [
					{ name: 'Start', type: MANUAL_TRIGGER_TYPE },
					{ name: 'Items', type: ITEMS_NODE_TYPE, parameters: { items: '[{"t":"hello"},{"t":"world"}]' } },
					{ name: 'Make File', type: 'test.makeFile', parameters: { text: '={{ $json.t }}' } },
					{ name: 'Read File', type: 'test.readFile' },
				],
				connections: {
					Start: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
					Items: { main: [[{ node: 'Make File', type: 'main', index: 0 }]] },
					'Make File': { main: [[{ node: 'Read File', type: 'main', index: 0 }]] },
				},
			},
			{ nodeTypes, binaryDataMode: mode },
		);

		expect(result.status).toBe('success');
		const files = result.outputOf('Make File');
		const binary = files[0].binary!.data;
		expect(binary.fileName).toBe('file-0.txt');
		expect(binary.mimeType).toBe('text/plain');
		if (mode === 'filesystem') {
			expect(binary.id).toMatch(new RegExp(`^filesystem-v2:workflows/.+/executions/${result.executionId}/binary_data/`));
			expect(binary.data).toBe('filesystem-v2');
		} else {
			expect(binary.id).toBeUndefined();
			expect(binary.data).toBe(Buffer.from('hello').toString('base64'));
		}
		expect((await getBinaryBuffer(files[1].binary!.data)).toString()).toBe('world');
		expect(result.outputOf('Read File').map((i) => i.json)).toEqual([
			{ content: 'hello', streamed: mode === 'filesystem' ? 'hello' : '' },
			{ content: 'world', streamed: mode === 'filesystem' ? 'world' : '' },
		]);
	});
});

describe('waiting executions', () => {
	const waitWorkflow: WorkflowInput = {
		nodes: [
			{ name: 'Start', type: MANUAL_TRIGGER_TYPE },
			{ name: 'Wait For Callback', type: 'test.waitForCallback' },
			{ name: 'After', type: NOOP_NODE_TYPE },
		],
		connections: {
			Start: { main: [[{ node: 'Wait For Callback', type: 'main', index: 0 }]] },
			'Wait For Callback': { main: [[{ node: 'After', type: 'main', index: 0 }]] },
		},
	};

	it('ends with waitTill and a resume URL, and resumes through the node webhook', async () => {
		const first = await runWorkflow(waitWorkflow, { nodeTypes });

		expect(first.status).toBe('waiting');
		expect(first.waitTill).toBeInstanceOf(Date);
		expect(first.waitTill!.getTime()).toBeGreaterThan(Date.now());
		expect(first.statusUpdates).toContain('waiting');
		expect(first.runData['Wait For Callback'][0].executionStatus).toBe('waiting');
		expect(first.runData.After).toBeUndefined();
		expect(first.resumeUrl).toBe(`http://127.0.0.1:5678/webhook-waiting/${first.executionId}`);
		expect(first.outputOf('Wait For Callback')[0].json.resumeUrl).toBe(first.resumeUrl);

		const resumed = await resumeWorkflow(first, { request: { body: { answer: 42 } } });

		expect(resumed.webhook.statusCode).toBe(200);
		expect(resumed.webhook.body.length).toBe(0); // responseData: 'noData'
		expect(resumed.run?.status).toBe('success');
		expect(resumed.run?.outputOf('After')[0].json).toEqual({ resumed: true, body: { answer: 42 } });
		expect(resumed.run?.runData['Wait For Callback']).toHaveLength(1);
		expect(resumed.run?.nodeExecutionOrder).toEqual(['Wait For Callback', 'After']);
	});

	it('continues with the input items once waitTill has passed (as WaitTracker does)', async () => {
		const first = await runWorkflow(waitWorkflow, { nodeTypes });
		const resumed = await resumeAfterWaitTill(first);

		expect(resumed.status).toBe('success');
		expect(resumed.executionId).toBe(first.executionId);
		expect(resumed.outputOf('After').map((i) => i.json)).toEqual([{}]);
		expect(resumed.runData['Wait For Callback']).toHaveLength(1);
	});

	it('resumes over real HTTP through the waiting-webhook server', async () => {
		const waiting = await startWaitingWebhookServer();
		try {
			const first = await runWorkflow(waitWorkflow, { nodeTypes, waitingServer: waiting });
			const resumeUrl = first.outputOf('Wait For Callback')[0].json.resumeUrl as string;
			expect(resumeUrl).toBe(`${waiting.baseUrl}/webhook-waiting/${first.executionId}`);

			const response = await fetch(resumeUrl, {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({ status: 'done' }),
			});
			expect(response.status).toBe(200);
			const resumed = await waiting.waitForResume(first.executionId);
			expect(resumed.run?.finished).toBe(true);
			expect(resumed.run?.outputOf('After')[0].json.body).toEqual({ status: 'done' });

			const again = await fetch(resumeUrl, { method: 'POST' });
			expect(again.status).toBe(409);
			expect((await fetch(`${waiting.baseUrl}/webhook-waiting/nope`, { method: 'POST' })).status).toBe(404);
		} finally {
			await waiting.close();
		}
	});
});

describe('webhooks', () => {
	const secret = 's3cret';
	const sign = (raw: string) => createHmac('sha256', secret).update(raw).digest('hex');

	it('runs a trigger webhook() through callWebhook, with n8n 1.x default answer', async () => {
		const raw = JSON.stringify({ id: 'req-1', rows: [1, 2] });
		const result = await callWebhook(new ReportTrigger(), {
			parameters: { secret },
			webhookId: 'hook-1',
			request: {
				method: 'POST',
				headers: { 'content-type': 'application/json', 'x-signature': sign(raw) },
				rawBody: raw,
			},
		});

		expect(result.error).toBeUndefined();
		expect(result.statusCode).toBe(200);
		// No responseData in the webhook description: n8n 1.x answers this literal text.
		expect(result.responseBody).toBe('firstEntryJson');
		expect(result.noWebhookResponse).toBe(false);
		const [item] = result.workflowData![0];
		expect(item.json).toEqual({ id: 'req-1', url: 'http://127.0.0.1:5678/webhook/hook-1/report' });
		expect((await getBinaryBuffer(item.binary!.data)).toString()).toBe(raw);
		expect(result.request.rawBody.toString()).toBe(raw);
	});

	it('lets the node answer itself (noWebhookResponse)', async () => {
		const result = await callWebhook(new ReportTrigger(), {
			parameters: { secret },
			request: { body: { id: 'x' }, headers: { 'x-signature': 'wrong' } },
		});

		expect(result.statusCode).toBe(401);
		expect(result.responseBody).toEqual({ message: 'Invalid signature' });
		expect(result.noWebhookResponse).toBe(true);
		expect(result.workflowData).toBeUndefined();
	});

	it('computes the production webhook URL like n8n', async () => {
		await expect(
			getWebhookUrl(new ReportTrigger(), { webhookId: 'abc', baseUrl: 'https://n8n.example.com' }),
		).resolves.toBe('https://n8n.example.com/webhook/abc/report');
	});

	it('serves the trigger over real HTTP and runs the workflow behind it', async () => {
		const workflow: WorkflowInput = {
			nodes: [
				{
					name: 'Report Trigger',
					type: 'test.reportTrigger',
					parameters: { secret },
					webhookId: 'hook-2',
				},
				{ name: 'After', type: NOOP_NODE_TYPE },
			],
			connections: { 'Report Trigger': { main: [[{ node: 'After', type: 'main', index: 0 }]] } },
		};
		const server = await startWebhookServer(new ReportTrigger(), {
			workflow,
			nodeTypes,
			binaryDataMode: 'filesystem',
			activate: true,
		});
		try {
			expect(server.url).toBe(`${server.baseUrl}/webhook/hook-2/report`);
			const raw = JSON.stringify({ id: 'req-2' });
			const response = await fetch(server.url, {
				method: 'POST',
				headers: { 'content-type': 'application/json', 'x-signature': sign(raw) },
				body: raw,
			});
			expect(response.status).toBe(200);
			expect(await response.text()).toBe('firstEntryJson');

			const call = await server.nextCall();
			expect(call.workflowData![0][0].json.id).toBe('req-2');
			expect(call.workflowData![0][0].json.url).toBe(server.url);
			expect(call.run?.status).toBe('success');
			const after = call.run!.outputOf('After')[0];
			expect(after.binary!.data.id).toMatch(/^filesystem-v2:/);
			expect((await getBinaryBuffer(after.binary!.data)).toString()).toBe(raw);

			const bad = await fetch(server.url, { method: 'POST', body: raw, headers: { 'x-signature': 'no' } });
			expect(bad.status).toBe(401);
			expect(await bad.json()).toEqual({ message: 'Invalid signature' });
			expect((await server.nextCall()).noWebhookResponse).toBe(true);

			expect((await fetch(`${server.baseUrl}/webhook/other`, { method: 'POST' })).status).toBe(404);
			expect((await fetch(server.url, { method: 'GET' })).status).toBe(404);
		} finally {
			await server.close();
		}
	});

	it('parses form and multipart bodies like n8n', async () => {
		class Echo implements INodeType {
			description: INodeTypeDescription = {
				...new ReportTrigger().description,
				name: 'echoTrigger',
				webhooks: [{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: 'echo' }],
			};

			async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
				return { workflowData: [[{ json: { body: this.getBodyData() as IDataObject } }]] };
			}
		}
		const form = await callWebhook(new Echo(), {
			request: {
				headers: { 'content-type': 'application/x-www-form-urlencoded' },
				rawBody: 'a=1&b=two&b=three',
			},
		});
		expect(form.workflowData![0][0].json.body).toEqual({ a: '1', b: ['two', 'three'] });

		const boundary = 'XyZ';
		const multipart = [
			`--${boundary}`,
			'Content-Disposition: form-data; name="field"',
			'',
			'value',
			`--${boundary}`,
			'Content-Disposition: form-data; name="file"; filename="r.csv"',
			'Content-Type: text/csv',
			'',
			'a,b\n1,2',
			`--${boundary}--`,
			'',
		].join('\r\n');
		const mp = await callWebhook(new Echo(), {
			request: {
				headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
				rawBody: multipart,
			},
		});
		const body = mp.workflowData![0][0].json.body as { data: IDataObject; files: Record<string, IDataObject> };
		expect(body.data).toEqual({ field: 'value' });
		expect(body.files.file).toMatchObject({ originalFilename: 'r.csv', mimetype: 'text/csv', size: 7 });
	});

	it('answers n8n\'s error when webhook() throws', async () => {
		class Broken extends ReportTrigger {
			async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
				throw new NodeOperationError(this.getNode(), 'boom');
			}
		}
		const result = await callWebhook(new Broken(), { request: { body: {} } });
		expect(result.error?.message).toBe('boom');
		expect(result.statusCode).toBe(500);
		expect(result.responseBody).toEqual({
			code: 0,
			message: 'Workflow Webhook Error: Workflow could not be started!',
		});
	});
});
