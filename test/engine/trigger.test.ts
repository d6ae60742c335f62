// The trigger as n8n runs it: its webhook() behind a real HTTP server, with the sandbox posting
// finished files to it, and forged requests that must start nothing.
import { createHash } from 'crypto';

import { callWebhook, cleanupEngine, getBinaryBuffer, startWebhookServer, type WebhookServer } from './harness';
import { CopernicaDataRequestTrigger } from '../../nodes/Copernica/CopernicaDataRequestTrigger.node';
import { runNode, startCopernica, type Sandbox } from './copernica';

const trigger = new CopernicaDataRequestTrigger();
const SECRET = 'a-long-random-secret-9d8e7f';
const file = { info: { type: 'email', id: 'someone@example.com' }, data: [[{ kind: 'message' }], [{ kind: 'open' }]] };
const fileText = JSON.stringify(file);

let sandbox: Sandbox;
beforeAll(async () => {
	sandbox = await startCopernica();
});
afterAll(async () => {
	await sandbox.close();
	await cleanupEngine();
});

describe('round trip: Create with the trigger URL as report, the sandbox posts the file', () => {
	let server: WebhookServer;
	beforeAll(async () => {
		server = await startWebhookServer(trigger, { parameters: { secret: SECRET } });
	});
	afterAll(async () => server.close());

	it.each([
		['json', false],
		['form', false],
		['text', false],
		['json', true],
	])('receives the file posted as %s (signed: %s)', async (reportContentType, signReports) => {
		sandbox.setOptions({ reportContentType, signReports, readyAfterMs: 0 });
		const report = `${server.url}?secret=${encodeURIComponent(SECRET)}&ticket=T-42`;
		const email = "o'brien+report@example.com";
		const { output } = await runNode(sandbox, { operation: 'create', subjectType: 'email', email, report });
		expect(output![0].json.report).toBe(report);

		const call = await server.nextCall(10_000);
		expect(call.statusCode).toBe(200);
		expect(call.responseBody).toEqual({ received: true });
		const item = call.workflowData![0][0];
		expect(item.json.info).toEqual({ type: 'email', id: email });
		expect(Array.isArray(item.json.data)).toBe(true);
		expect(item.json.query).toEqual({ ticket: 'T-42' });
		expect(item.json.contentLength).toBe(Number(call.request.headers['content-length']));
		expect(new Date(item.json.receivedAt as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
	});
});

describe('requests that must start nothing', () => {
	const post = (query: Record<string, string>, body: string, headers: Record<string, string> = {}, parameters = {}) =>
		callWebhook(trigger, {
			parameters: { secret: SECRET, ...parameters },
			request: {
				query,
				rawBody: body,
				headers: { 'content-type': 'application/json', ...headers },
			},
		});

	it.each([
		['no secret', {}, fileText, {}, {}, 401],
		['a wrong secret', { secret: 'guess' }, fileText, {}, {}, 401],
		['a secret of the right length but wrong', { secret: SECRET.replace(/.$/, 'x') }, fileText, {}, {}, 401],
		['a valid secret and a body that is not a file', { secret: SECRET }, '{"hello":"world"}', {}, {}, 400],
		// n8n's own JSON body parser refuses this one before the node runs
		['a valid secret and invalid JSON', { secret: SECRET }, '{"info":', {}, {}, 422],
		['a valid secret and an empty body', { secret: SECRET }, '', {}, {}, 400],
		[
			'a body over the size limit',
			{ secret: SECRET },
			JSON.stringify({ ...file, padding: 'x'.repeat(1_100_000) }),
			{},
			{ options: { maxBodySizeMb: 1 } },
			413,
		],
		['a Digest that does not match the body', { secret: SECRET }, fileText, { digest: `SHA-256=${createHash('sha256').update('other').digest('base64')}` }, {}, 401],
	])('%s', async (_name, query, body, headers, parameters, status) => {
		const call = await post(query, body, headers, parameters);
		expect(call.statusCode).toBe(status);
		expect(call.workflowData).toBeUndefined();
		expect(JSON.stringify(call.responseBody)).not.toContain(SECRET);
	});

	it('accepts a matching Digest, and everything when no secret is set', async () => {
		const digest = `SHA-256=${createHash('sha256').update(fileText).digest('base64')}`;
		expect((await post({ secret: SECRET }, fileText, { digest })).workflowData).toHaveLength(1);
		expect((await post({}, fileText, {}, { secret: '' })).workflowData).toHaveLength(1);
	});
});

describe('options', () => {
	it('returns the file as binary data.json with a summary', async () => {
		const call = await callWebhook(trigger, {
			parameters: { options: { binaryFile: true, binaryPropertyName: 'report' } },
			request: { rawBody: fileText, headers: { 'content-type': 'application/json' } },
			binaryDataMode: 'filesystem',
		});
		const item = call.workflowData![0][0];
		expect(item.json).toMatchObject({
			info: file.info,
			summary: { bytes: fileText.length, groups: 2, entries: 2, entriesPerGroup: [1, 1] },
			contentLength: fileText.length,
		});
		expect(item.json.data).toBeUndefined();
		expect(item.binary!.report).toMatchObject({ fileName: 'data.json', mimeType: 'application/json' });
		expect((await getBinaryBuffer(item.binary!.report)).toString()).toBe(fileText);
	});

	it('starts one execution for a file delivered twice when repeats are ignored', async () => {
		const staticData = {};
		const deliver = async (body: string) =>
			await callWebhook(trigger, {
				parameters: { options: { deduplicate: true } },
				staticData,
				request: { rawBody: body, headers: { 'content-type': 'application/json' } },
			});
		const first = await deliver(fileText);
		const second = await deliver(fileText);
		const other = await deliver(JSON.stringify({ ...file, data: [] }));
		expect(first.workflowData).toHaveLength(1);
		expect(second.workflowData).toBeUndefined();
		expect(second.statusCode).toBe(200);
		expect(second.responseBody).toEqual({ received: true, duplicate: true });
		expect(other.workflowData).toHaveLength(1);
	});

	it('without de-duplication a repeated file starts the workflow again', async () => {
		const staticData = {};
		const deliver = async () =>
			await callWebhook(trigger, { staticData, request: { rawBody: fileText, headers: { 'content-type': 'application/json' } } });
		expect((await deliver()).workflowData).toHaveLength(1);
		expect((await deliver()).workflowData).toHaveLength(1);
	});
});
