// Self-test of the engine harness, with small inline node and credential types against a small
// HTTP server on 127.0.0.1: what the harness itself does (credentials, binary data modes, the
// run result, log capture), not what n8n-core does with it.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
	IAuthenticate,
	ICredentialType,
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';
import { NodeApiError, NodeConnectionTypes } from 'n8n-workflow';

import {
	ITEMS_NODE_TYPE,
	MANUAL_TRIGGER_TYPE,
	cleanupEngine,
	getBinaryBuffer,
	logLines,
	runWorkflow,
	safeStringify,
	type WorkflowInput,
} from './harness';

const TOKEN = 'tok-secret-0123456789';

class TestApi implements ICredentialType {
	name = 'testApi';
	displayName = 'Test API';
	properties = [
		{ displayName: 'Token', name: 'token', type: 'string' as const, typeOptions: { password: true }, default: '' },
		{ displayName: 'Base URL', name: 'baseUrl', type: 'string' as const, default: '' },
		{ displayName: 'API Version', name: 'apiVersion', type: 'string' as const, default: 'v1' },
	];
	authenticate: IAuthenticate = async (credentials, requestOptions) => ({
		...requestOptions,
		qs: { ...requestOptions.qs, access_token: credentials.token },
	});
}

const description = (name: string, extra: Partial<INodeTypeDescription> = {}): INodeTypeDescription => ({
	displayName: name,
	name,
	group: ['transform'],
	version: 1,
	description: name,
	defaults: { name },
	inputs: [NodeConnectionTypes.Main],
	outputs: [NodeConnectionTypes.Main],
	properties: [],
	...extra,
});

/** GET <baseUrl>/<apiVersion>/profile?email=... per item, authenticated by the credential. */
class ApiCall implements INodeType {
	description = description('apiCall', {
		credentials: [{ name: 'testApi', required: true }],
		properties: [{ displayName: 'Email', name: 'email', type: 'string', default: '' }],
	});

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const credentials = await this.getCredentials('testApi');
		const out: INodeExecutionData[] = [];
		for (let i = 0; i < this.getInputData().length; i++) {
			try {
				const json = await this.helpers.httpRequestWithAuthentication.call(this, 'testApi', {
					method: 'GET',
					url: `${credentials.baseUrl as string}/${credentials.apiVersion as string}/profile`,
					qs: { email: this.getNodeParameter('email', i) as string },
					json: true,
				});
				out.push({ json, pairedItem: { item: i } });
			} catch (error) {
				if (!this.continueOnFail()) throw new NodeApiError(this.getNode(), error, { itemIndex: i });
				out.push({ json: { error: (error as Error).message }, pairedItem: { item: i } });
			}
		}
		return [out];
	}
}

/** Stores the item's text as a binary file and reads it back through n8n's helpers. */
class FileRoundTrip implements INodeType {
	description = description('fileRoundTrip');

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const out: INodeExecutionData[] = [];
		for (const [i, item] of this.getInputData().entries()) {
			const data = await this.helpers.prepareBinaryData(Buffer.from(String(item.json.text)), `f${i}.txt`, 'text/plain');
			out.push({ json: {}, binary: { data }, pairedItem: { item: i } });
		}
		return [out];
	}
}

/** Puts the execution to wait for an hour and outputs its resume URL. */
class WaitAnHour implements INodeType {
	description = description('waitAnHour');

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const resumeUrl = this.evaluateExpression('{{ $execution.resumeUrl }}', 0) as string;
		await this.putExecutionToWait(new Date(Date.now() + 3_600_000));
		return [[{ json: { resumeUrl }, pairedItem: { item: 0 } }]];
	}
}

const nodeTypes = { 'test.apiCall': new ApiCall(), 'test.fileRoundTrip': new FileRoundTrip(), 'test.waitAnHour': new WaitAnHour() };

/** Manual Trigger -> Items -> <type>. */
function workflow(items: IDataObject[], type: string, parameters: IDataObject = {}, settings: IDataObject = {}): WorkflowInput {
	return {
		nodes: [
			{ name: 'Start', type: MANUAL_TRIGGER_TYPE },
			{ name: 'Items', type: ITEMS_NODE_TYPE, parameters: { items: JSON.stringify(items) } },
			{ name: 'Node', type, parameters: parameters as never, ...settings },
		],
		connections: {
			Start: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
			Items: { main: [[{ node: 'Node', type: 'main', index: 0 }]] },
		},
	};
}

let api: Server;
let apiUrl: string;
const requests: URL[] = [];
beforeAll(async () => {
	api = createServer((req: IncomingMessage, res: ServerResponse) => {
		const url = new URL(req.url ?? '/', 'http://127.0.0.1');
		requests.push(url);
		const status = url.searchParams.get('access_token') !== TOKEN ? 401 : url.searchParams.get('email') === 'missing@example.com' ? 404 : 200;
		res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ path: url.pathname, email: url.searchParams.get('email') }));
	});
	await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
	apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
	await new Promise((resolve) => api.close(resolve));
	await cleanupEngine();
});
beforeEach(() => {
	requests.length = 0;
});

const withCredentials = () => ({ nodeTypes, credentialTypes: [new TestApi()], credentials: { testApi: { token: TOKEN, baseUrl: apiUrl } } });

describe('runWorkflow', () => {
	it('runs the items through the node; the credential gets its defaults and its authenticate function signs each call', async () => {
		const emails = [{ email: 'a@example.com' }, { email: 'b@example.com' }];
		const run = await runWorkflow(workflow(emails, 'test.apiCall', { email: '={{ $json.email }}' }), withCredentials());

		expect(run).toMatchObject({ status: 'success', finished: true, error: undefined });
		expect(run.outputOf('Node')).toEqual([
			{ json: { path: '/v1/profile', email: 'a@example.com' }, pairedItem: { item: 0 } },
			{ json: { path: '/v1/profile', email: 'b@example.com' }, pairedItem: { item: 1 } },
		]);
		// apiVersion 'v1' is the property's default; the token came from authenticate().
		expect(requests.map((url) => url.searchParams.get('access_token'))).toEqual([TOKEN, TOKEN]);
		// The node got a credential assigned, as a user picks one in the editor.
		expect(run.nodes.find((n) => n.name === 'Node')!.credentials).toEqual({ testApi: { id: 'test-testApi', name: 'testApi' } });
		// n8n-core's own log lines were captured (the token-leak checks read them).
		expect(run.logLines.some((line) => line.message.includes('Start executing node'))).toBe(true);
		expect(logLines.filter((line) => line.text.includes(TOKEN))).toEqual([]);
	});

	it('fails the execution on an error, and continues with an error item under continue-on-fail', async () => {
		const emails = [{ email: 'a@example.com' }, { email: 'missing@example.com' }];
		const failed = await runWorkflow(workflow(emails, 'test.apiCall', { email: '={{ $json.email }}' }), withCredentials());
		expect(failed.status).toBe('error');
		expect(failed.error).toMatchObject({ name: 'NodeApiError' });
		expect(() => failed.outputOf('Node')).toThrow(/it failed/);

		const continued = await runWorkflow(
			workflow(emails, 'test.apiCall', { email: '={{ $json.email }}' }, { onError: 'continueRegularOutput' }),
			withCredentials(),
		);
		expect(continued.status).toBe('success');
		expect(continued.outputOf('Node').map((item) => Object.keys(item.json))).toEqual([['path', 'email'], ['error']]);
	});

	it('refuses credential data without its type, and a type without an authenticate function', async () => {
		await expect(runWorkflow(workflow([{}], 'test.apiCall'), { nodeTypes, credentials: { testApi: { token: TOKEN } } })).rejects.toThrow(
			/credentialTypes/,
		);
		const generic = Object.assign(new TestApi(), { authenticate: { type: 'generic', properties: {} } });
		const run = await runWorkflow(workflow([{}], 'test.apiCall'), { ...withCredentials(), credentialTypes: [generic as ICredentialType] });
		expect(JSON.stringify(run.error)).toContain('only an authenticate function');
	});

	it.each(['default', 'filesystem'] as const)('stores binary data in %s mode', async (binaryDataMode) => {
		const run = await runWorkflow(workflow([{ text: 'hello' }, { text: 'world' }], 'test.fileRoundTrip'), { nodeTypes, binaryDataMode });
		const [first, second] = run.outputOf('Node').map((item) => item.binary!.data);
		expect(first).toMatchObject({ fileName: 'f0.txt', mimeType: 'text/plain' });
		if (binaryDataMode === 'filesystem') {
			expect(first.id).toMatch(new RegExp(`^filesystem-v2:workflows/.+/executions/${run.executionId}/binary_data/`));
		} else {
			expect(first.id).toBeUndefined();
			expect(first.data).toBe(Buffer.from('hello').toString('base64'));
		}
		expect((await getBinaryBuffer(second)).toString()).toBe('world');
	});

	it('ends waiting when a node puts the execution to wait', async () => {
		const run = await runWorkflow(workflow([{}], 'test.waitAnHour'), { nodeTypes });
		expect(run.status).toBe('waiting');
		expect(run.finished).toBe(false);
		expect(run.statusUpdates).toContain('waiting');
		expect(run.waitTill!.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
		expect(run.resumeUrl).toBe(`http://127.0.0.1:5678/webhook-waiting/${run.executionId}`);
		expect(run.outputOf('Node')[0].json.resumeUrl).toBe(run.resumeUrl);
	});
});

describe('safeStringify', () => {
	it('shows errors, buffers as text and cycles', () => {
		const value: IDataObject = { error: Object.assign(new Error('boom'), { code: 'E1' }), bytes: Buffer.from(TOKEN) };
		value.self = value;
		const text = safeStringify(value);
		expect(text).toContain('"message":"boom"');
		expect(text).toContain('"code":"E1"');
		expect(text).toContain(TOKEN);
		expect(text).toContain('[Circular]');
	});
});
