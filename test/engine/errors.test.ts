// Failed calls carry Copernica's own message and status, and the access token never appears in
// anything n8n keeps or shows: the error, the run data, Continue On Fail output, or the log.
import { createServer } from 'net';

import { cleanupEngine } from './harness';
import { everythingStoredOf, runNode, startCopernica, TOKEN, type Sandbox } from './copernica';

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

const create = { operation: 'create', subjectType: 'email', subject: 'someone@example.com' };
const get = { operation: 'get', requestId: '12' };

async function closedPort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as { port: number };
	await new Promise((resolve) => server.close(resolve));
	return port;
}

const cases: Array<[string, () => Promise<{ baseUrl?: string; accessToken?: string }>, object, RegExp | string, string | undefined]> = [
	[
		'400 with an error body',
		async () => (sandbox.addFault({ type: 'error', status: 400, message: 'Invalid parameter report' }), {}),
		create,
		'Invalid parameter report',
		'400',
	],
	['an invalid token (Copernica answers 400)', async () => ({ accessToken: 'wrong-token-abcdef' }), create, 'Invalid access token', '400'],
	['401 invalid token', async () => (sandbox.addFault({ type: 'invalid-token' }), {}), get, 'Invalid access token', '401'],
	[
		'404 from /data and the bare form',
		async () => (
			sandbox.addFault({ type: 'error', status: 404, message: 'Not found', match: { kind: 'status' } }),
			sandbox.addFault({ type: 'error', status: 404, message: 'Not found', match: { kind: 'data' } }),
			sandbox.addFault({ type: 'error', status: 404, message: 'Not found', match: { kind: 'bare' } }),
			{}
		),
		get,
		/^$/,
		undefined,
	],
	['500 echoing the URL with the token in JSON', async () => (sandbox.addFault({ type: 'echo-url', status: 500, format: 'json' }), {}), create, /^Upstream request failed: POST http:\/\/127\.0\.0\.1:\d+\/v3\/email\/someone%40example\.com\/datarequest\?access_token=\*\*\*$/, '500'],
	['502 echoing the URL in an HTML page', async () => (sandbox.addFault({ type: 'echo-url', status: 502 }), {}), get, /Copernica answered HTTP 502/, '502'],
	['503 with an HTML page', async () => (sandbox.addFault({ type: 'unavailable', status: 503 }), {}), create, 'Copernica answered HTTP 503 Service Unavailable', '503'],
	['429 with Retry-After', async () => (sandbox.addFault({ type: 'rate-limit', retryAfter: 7 }), {}), get, /too many requests/i, '429'],
	['a reset connection', async () => (sandbox.addFault({ type: 'reset' }), {}), create, /^Could not reach Copernica at 127\.0\.0\.1:\d+: the connection was reset/, undefined],
	['a refused connection', async () => ({ baseUrl: `http://127.0.0.1:${await closedPort()}` }), create, /^Could not reach Copernica at 127\.0\.0\.1:\d+: the connection was refused$/, undefined],
	['a timeout', async () => (sandbox.addFault({ type: 'hang' }), {}), create, /^Could not reach Copernica at 127\.0\.0\.1:\d+: (no answer came within the timeout|the connection timed out)\. The data request may or may not have been created$/, undefined],
];

describe('failed calls', () => {
	it.each(cases)('%s: the message, and no token anywhere', async (_name, arrange, parameters, message, httpCode) => {
		const { baseUrl, accessToken } = await arrange();
		const options = { baseUrl, accessToken };
		// One try each: retries are tested in retry.test.ts; here the final message matters.
		const withTimeout = { ...parameters, options: { timeout: 1, retries: 0 } };

		const { run, output } = await runNode(sandbox, withTimeout, options);
		if (message instanceof RegExp && message.source === '^$') {
			// 404s that name neither the request nor its expiry are no evidence that there is no file
			expect(run.error).toBeUndefined();
			expect(output![0].json).toMatchObject({ status: 'pending' });
		} else {
			expect(run.error?.message).toMatch(message);
			if (httpCode) expect((run.error as unknown as { httpCode: string }).httpCode).toBe(httpCode);
		}
		const secret = accessToken ?? TOKEN;
		expect(everythingStoredOf(run)).not.toContain(secret);

		// Continue On Fail: the error becomes the item's output, still without the token
		sandbox.clearFaults();
		await arrange();
		const continued = await runNode(sandbox, withTimeout, { ...options, continueOnFail: true, items: [{}, {}] });
		expect(continued.run.error).toBeUndefined();
		expect(continued.output).toHaveLength(2);
		expect(everythingStoredOf(continued.run)).not.toContain(secret);
	});

	it('redacts the token from an echoed URL but keeps the rest of the message', async () => {
		sandbox.addFault({ type: 'echo-url', status: 500, format: 'json' });
		const { run } = await runNode(sandbox, create);
		const text = `${run.error?.message} ${run.error?.description}`;
		expect(text).toContain('access_token=***');
		expect(text).not.toContain(TOKEN);
	});
});
