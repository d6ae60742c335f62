// Temporary faults are tried again, permanent ones are not, and a create is tried again only when
// Copernica cannot have processed it (see helpers/retry.ts). Requests are counted in the sandbox;
// the waits between tries run on virtual time (./virtual-time) and are asserted as slept.
jest.mock('n8n-workflow', () => require('./virtual-time').workflowWithVirtualSleep());

import { createServer } from 'net';

import { cleanupEngine } from './harness';
import { everythingStoredOf, runNode, startCopernica, TOKEN, type Sandbox } from './copernica';
import { onSleep, sleeps, useVirtualTime } from './virtual-time';

useVirtualTime();

let sandbox: Sandbox;
beforeAll(async () => {
	sandbox = await startCopernica();
});
afterAll(async () => {
	await sandbox.close();
	await cleanupEngine();
});
beforeEach(() => {
	sandbox.reset();
	sandbox.clearFaults();
});

const create = (options: object = {}) => ({
	operation: 'create',
	subjectType: 'email',
	subject: 'someone@example.com',
	options: { timeout: 1, ...options },
});
const get = (options: object = {}) => ({ operation: 'get', requestId: '12', options: { timeout: 1, ...options } });
const httpCodeOf = (error: unknown) => (error as { httpCode?: string } | undefined)?.httpCode;

// [name, sandbox fault rule]: each fault happens once, on the first try
const faults: Array<[string, object]> = [
	['429 without Retry-After', { type: 'rate-limit' }],
	['429 with Retry-After: 1', { type: 'rate-limit', retryAfter: 1 }],
	['502 with an HTML page', { type: 'unavailable', status: 502 }],
	['503 with an HTML page', { type: 'unavailable', status: 503 }],
	['503 with a JSON body', { type: 'error', status: 503, message: 'Service unavailable' }],
	['504 with an HTML page', { type: 'unavailable', status: 504 }],
	['a reset before the server read the request', { type: 'reset' }],
	['a reset after the server processed the request', { type: 'reset', after: true }],
	['a timeout (no answer)', { type: 'hang' }],
];

describe('GET: every temporary fault is tried again', () => {
	it.each(faults)('%s: one retry, then the answer', async (_name, rule) => {
		sandbox.addFault({ ...rule, match: { kind: 'status' } });
		const { run, output } = await runNode(sandbox, get());
		expect(run.error).toBeUndefined();
		expect(output![0].json).toMatchObject({ id: '12', status: 'not available' });
		expect(sandbox.counts().status).toBe(2);
		expect(sleeps).toHaveLength(1);
		if ((rule as { retryAfter?: number }).retryAfter) expect(sleeps[0]).toBeGreaterThanOrEqual(1000);
		expect(everythingStoredOf(run)).not.toContain(TOKEN);
	});
});

describe('POST (Create): tried again only when Copernica cannot have processed it', () => {
	it.each(faults.filter(([name]) => /^(429|503)/.test(name)))('%s: one retry, one data request', async (_name, rule) => {
		sandbox.addFault({ ...rule, match: { kind: 'create' } });
		const { run, output } = await runNode(sandbox, create());
		expect(run.error).toBeUndefined();
		expect(output![0].json).toMatchObject({ subject: 'someone@example.com' });
		expect(sandbox.counts()).toMatchObject({ create: 2, created: 1 });
	});

	it('a refused connection (the server was not there yet): retried, one data request', async () => {
		const port = await freePort();
		// Nothing listens on `port` at first; the sandbox starts there shortly after the first try.
		let server: Sandbox | undefined;
		const starting = new Promise<void>((resolve) =>
			setTimeout(async () => {
				server = await startCopernica({ port });
				resolve();
			}, 30),
		);
		try {
			const { run, output } = await runNode(undefined, create({ retries: 10 }), { baseUrl: `http://127.0.0.1:${port}` });
			await starting;
			expect(run.error).toBeUndefined();
			expect(output![0].json).toMatchObject({ subject: 'someone@example.com' });
			expect(server!.counts()).toMatchObject({ create: 1, created: 1 });
		} finally {
			await starting;
			await server?.close();
		}
	});

	it.each(faults.filter(([name]) => /^(502|504|a reset|a timeout)/.test(name)))(
		'%s: not retried, the error says the request may exist',
		async (_name, rule) => {
			sandbox.addFault({ ...rule, match: { kind: 'create' } });
			const { run } = await runNode(sandbox, create());
			expect(run.error?.message).toMatch(/\. The data request may or may not have been created$/);
			expect(run.error?.description).toContain('Check in Copernica whether the data request exists before running this item again');
			expect(sandbox.counts().create).toBe(1);
			const processed = (rule as { after?: boolean }).after === true;
			expect(sandbox.counts().created).toBe(processed ? 1 : 0);
			expect(everythingStoredOf(run)).not.toContain(TOKEN);
		},
	);
});

describe('permanent faults are never retried', () => {
	it.each([
		['400', { type: 'error', status: 400, message: 'Invalid parameter report' }, 'Invalid parameter report', '400'],
		['401', { type: 'invalid-token' }, 'Invalid access token', '401'],
		['403', { type: 'error', status: 403, message: 'Forbidden for this token' }, 'Forbidden for this token', '403'],
		['404', { type: 'error', status: 404, message: 'Unknown method' }, 'Unknown method', '404'],
		['500', { type: 'error', status: 500, message: 'Internal error' }, 'Internal error', '500'],
	])('%s on a create: exactly one request', async (_name, rule, message, httpCode) => {
		sandbox.addFault({ ...rule, match: { kind: 'create' }, times: 'Infinity' });
		const { run } = await runNode(sandbox, create());
		expect(run.error?.message).toBe(message);
		expect(httpCodeOf(run.error)).toBe(httpCode);
		expect(run.error?.description).not.toContain('Tried');
		expect(sandbox.counts().create).toBe(1);
	});

	it.each([
		['400', { type: 'error', status: 400, message: 'Bad id' }, 'Bad id'],
		['401', { type: 'invalid-token' }, 'Invalid access token'],
	])('%s on a status call: exactly one request', async (_name, rule, message) => {
		sandbox.addFault({ ...rule, match: { kind: 'status' }, times: 'Infinity' });
		const { run } = await runNode(sandbox, get());
		expect(run.error?.message).toBe(message);
		expect(sandbox.counts().status).toBe(1);
	});

	it('an invalid token: one request, Copernica\'s message, no token', async () => {
		const { run } = await runNode(sandbox, create(), { accessToken: 'wrong-token-abcdef' });
		expect(run.error?.message).toBe('Invalid access token');
		expect(sandbox.counts().create).toBe(1);
		expect(everythingStoredOf(run)).not.toContain('wrong-token-abcdef');
	});
});

describe('when the retries run out', () => {
	it('503 on every try: 1 + 3 requests, the status, the number of tries, no token', async () => {
		sandbox.addFault({ type: 'unavailable', status: 503, match: { kind: 'status' }, times: 'Infinity' });
		const { run } = await runNode(sandbox, get());
		expect(sandbox.counts().status).toBe(4);
		expect(run.error?.message).toBe('Copernica answered HTTP 503 Service Unavailable');
		expect(httpCodeOf(run.error)).toBe('503');
		expect(run.error?.description).toMatch(/HTML page .*\. Tried 4 times\.$/);
		expect(everythingStoredOf(run)).not.toContain(TOKEN);
	});

	it("429 with Copernica's JSON message on every try of a create: its message, 4 requests, nothing created", async () => {
		sandbox.addFault({ type: 'rate-limit', message: 'Too many requests for this account', match: { kind: 'create' }, times: 'Infinity' });
		const { run } = await runNode(sandbox, create());
		expect(run.error?.message).toBe('Too many requests for this account');
		expect(run.error?.description).toBe(
			'Copernica answered HTTP 429 Too Many Requests: Too many requests for this account. Tried 4 times.',
		);
		expect(httpCodeOf(run.error)).toBe('429');
		expect(sandbox.counts()).toMatchObject({ create: 4, created: 0 });
	});

	it('a proxy that echoes the URL on every try: redacted in the final error and in the retry log', async () => {
		sandbox.addFault({ type: 'echo-url', status: 502, format: 'json', match: { kind: 'status' }, times: 'Infinity' });
		const { run } = await runNode(sandbox, get());
		expect(sandbox.counts().status).toBe(4);
		expect(run.error?.message).toContain('access_token=***');
		expect(run.logLines.map((line) => line.text).join('\n')).toContain('retry 3 of 3');
		expect(everythingStoredOf(run)).not.toContain(TOKEN);
	});

	it('Continue On Fail: the error is the item, the next item still runs', async () => {
		sandbox.addFault({ type: 'unavailable', status: 504, match: { kind: 'status' }, times: 4 });
		// One item after the other, so that the four faults all meet the first item.
		const { run, output } = await runNode(sandbox, get({ concurrency: 1 }), { items: [{}, {}], continueOnFail: true });
		expect(run.error).toBeUndefined();
		expect(output!.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(output![0].json.error).toBe('Copernica answered HTTP 504 Gateway Timeout');
		expect(output![1].json).toMatchObject({ status: 'not available' });
		expect(sandbox.counts().status).toBe(5);
	});
});

describe('the Retries option', () => {
	it.each([
		[0, 1],
		[1, 2],
		[5, 6],
	])('Retries %s: %s requests', async (retries, requests) => {
		sandbox.addFault({ type: 'rate-limit', retryAfter: 0, match: { kind: 'status' }, times: 'Infinity' });
		const { run } = await runNode(sandbox, get({ retries }));
		expect(run.error?.message).toBe('Too many requests');
		expect(sandbox.counts().status).toBe(requests);
	});

	it('a cancelled execution stops waiting for the next try at once, and fails with the last answer', async () => {
		sandbox.addFault({ type: 'rate-limit', retryAfter: 5, match: { kind: 'status' }, times: 'Infinity' });
		let cancel: () => void = () => {};
		onSleep.current = () => {
			cancel();
			return 'hold';
		};
		const { run } = await runNode(sandbox, get(), { onStart: (stop) => (cancel = stop) });
		// The wait never ended by itself: the node went on only because of the cancel, and tried no more.
		expect(['canceled', 'error']).toContain(run.status);
		expect(sandbox.counts().status).toBe(1);
		expect(sleeps).toEqual([5000]);
	});

	it('a Retry-After longer than 30 s is not waited for: one request, and the error says so', async () => {
		sandbox.addFault({ type: 'rate-limit', retryAfter: 120, match: { kind: 'create' } });
		const { run } = await runNode(sandbox, create());
		expect(sleeps).toEqual([]);
		expect(sandbox.counts().create).toBe(1);
		expect(run.error?.description).toBe(
			'Copernica answered HTTP 429 Too Many Requests: Too many requests. Copernica asked to wait 120 s before trying again, longer than the node waits (30 s): run the item again later.',
		);
	});
});

async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as { port: number };
	await new Promise((resolve) => server.close(resolve));
	return port;
}
