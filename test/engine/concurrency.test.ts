// The "Concurrency" option: items overlap their calls to Copernica, never more than the limit at
// once, and the output keeps the input order (also with Continue On Fail, errors in place).
// Overlap is measured by counting calls in flight at the sandbox, never by elapsed time; waits
// (Retry-After) run on virtual time (./virtual-time).
jest.mock('n8n-workflow', () => require('./virtual-time').workflowWithVirtualSleep());

import type { IncomingMessage, Server, ServerResponse } from 'http';

import { runNode, startCopernica, type Sandbox } from './copernica';
import { cleanupEngine } from './harness';
import { sleeps, useVirtualTime } from './virtual-time';

useVirtualTime();

let sandbox: Sandbox;
/** API calls the sandbox is answering right now, the most there ever were at once, and at each arrival. */
const inFlight = { now: 0, max: 0, arrivals: [] as number[] };

beforeAll(async () => {
	sandbox = await startCopernica();
	const server = (sandbox as unknown as { server: Server }).server;
	server.on('request', (request: IncomingMessage, response: ServerResponse) => {
		if (request.url?.startsWith('/__sandbox/')) return;
		inFlight.now++;
		inFlight.max = Math.max(inFlight.max, inFlight.now);
		inFlight.arrivals.push(inFlight.now);
		response.once('close', () => inFlight.now--);
	});
});
afterAll(async () => {
	await sandbox.close();
	await cleanupEngine();
});
beforeEach(() => {
	sandbox.reset();
	sandbox.clearFaults();
	inFlight.max = 0;
	inFlight.arrivals = [];
});

const emails = (count: number) => Array.from({ length: count }, (_, i) => ({ email: `item${i}@example.com` }));
const create = (options = {}) => ({ operation: 'create', subjectType: 'email', subject: '={{ $json.email }}', report: '', options });
/** Every create answers after `ms`, the first ones slowest, so that later items finish first. */
function slowCreates(ms: number) {
	sandbox.addFault({ type: 'slow', delayMs: ms * 3, times: 2, match: { kind: 'create' } });
	sandbox.addFault({ type: 'slow', delayMs: ms, times: Infinity, match: { kind: 'create' } });
}

describe('Concurrency', () => {
	it('starts with 4 calls in flight, grows while answers come clean, up to Concurrency; output in input order', async () => {
		slowCreates(60);
		const { run, output } = await runNode(sandbox, create({ concurrency: 12 }), { items: emails(60) });
		expect(run.error).toBeUndefined();
		expect(output!.map((item) => item.json.subject)).toEqual(emails(60).map((item) => item.email));
		expect(output!.map((item) => item.pairedItem)).toEqual(emails(60).map((_, item) => ({ item })));
		// The first four went out together; the fifth only after an answer had come back.
		expect(inFlight.arrivals.slice(0, 4)).toEqual([1, 2, 3, 4]);
		expect(Math.max(...inFlight.arrivals.slice(0, 5))).toBe(4);
		expect(inFlight.max).toBe(12);
		expect(sandbox.counts()).toMatchObject({ create: 60, created: 60 });
	});

	it.each([1, 3])('never has more than %i calls in flight when the option says so', async (limit) => {
		slowCreates(60);
		const { run, output } = await runNode(sandbox, create({ concurrency: limit }), { items: emails(7) });
		expect(run.error).toBeUndefined();
		expect(output!.map((item) => item.json.subject)).toEqual(emails(7).map((item) => item.email));
		expect(inFlight.max).toBe(limit);
	});

	it('with Continue On Fail: one output per input, in order, errors in place', async () => {
		slowCreates(80);
		const items = [
			{ email: 'good0@example.com' },
			{ email: 'bad' },
			{ email: 'good2@example.com' },
			{ email: 'also bad@example.com' },
			{ email: 'good4@example.com' },
			{ email: 'good5@example.com' },
		];
		const { run, output } = await runNode(sandbox, create({ concurrency: 4 }), { items, continueOnFail: true });
		expect(run.error).toBeUndefined();
		expect(output!.map((item) => item.pairedItem)).toEqual(items.map((_, item) => ({ item })));
		expect(output!.map((item) => item.json.subject ?? 'error')).toEqual([
			'good0@example.com',
			'error',
			'good2@example.com',
			'error',
			'good4@example.com',
			'good5@example.com',
		]);
		expect(output![1].json.error).toBe('Item 1: "bad" is not a valid email address: it has no "@"');
		expect(output![3].json.error).toContain('Item 3:');
		expect(sandbox.counts().create).toBe(4);
	});

	it('without Continue On Fail: bad input in the batch fails the node before anything is sent', async () => {
		slowCreates(100);
		const items = [...emails(3), { email: 'bad' }, ...emails(8).slice(4)];
		const { run } = await runNode(sandbox, create({ concurrency: 2 }), { items });
		expect(run.error?.message).toBe('Item 3: "bad" is not a valid email address: it has no "@"');
		expect(sandbox.counts().create).toBe(0);
	});

	it('without Continue On Fail: a call that fails mid-batch names the data requests already created', async () => {
		sandbox.addFault({ type: 'error', status: 400, message: 'No entity with supplied ID', times: 1, match: { kind: 'create', path: '/v3/email/item2%40example.com/datarequest' } });
		const { run } = await runNode(sandbox, create({ concurrency: 1 }), { items: emails(5) });
		expect(run.error?.message).toBe('No entity with supplied ID');
		const created = [...sandbox.dataRequests.values()].map((r) => (r as { id: string }).id);
		expect(created).toHaveLength(2);
		expect(run.error?.description).toContain(`item 0: ${created[0]}, item 1: ${created[1]}.`);
		expect(sandbox.counts().create).toBe(3);
	});

	it('reads every item before sending: an expression that fails on one item fails that item only, in its place', async () => {
		slowCreates(30);
		const items = [{ person: { email: 'a@example.com' } }, { nobody: true }, { person: { email: 'c@example.com' } }];
		const parameters = { ...create({ concurrency: 2 }), subject: '={{ $json.person.email.trim() }}' };
		const { run, output } = await runNode(sandbox, parameters, { items, continueOnFail: true });
		expect(run.error).toBeUndefined();
		expect(output!.map((item) => item.json.subject ?? 'error')).toEqual(['a@example.com', 'error', 'c@example.com']);
		expect(output![1].json.error).toEqual(expect.any(String));
		expect(output!.map((item) => item.pairedItem)).toEqual(items.map((_, item) => ({ item })));
		expect(sandbox.counts().create).toBe(2);

		const failing = await runNode(sandbox, parameters, { items });
		expect(failing.run.error).toBeDefined();
		// Without Continue On Fail, the bad item fails the node before anything is sent.
		expect(sandbox.counts().create).toBe(2);
	});

	it('against a Copernica that refuses calls above 20 at once: 1,000 creates with the defaults, none lost, few refusals', async () => {
		sandbox.setOptions({ maxConcurrentCalls: 20 });
		slowCreates(20); // calls stay in flight a while, as over a network
		const items = emails(1000);
		const { run, output } = await runNode(sandbox, create(), { items });
		expect(run.error).toBeUndefined();
		expect(output!.map((item) => item.json.subject)).toEqual(items.map((item) => item.email));
		expect(output!.every((item) => typeof item.json.id === 'string')).toBe(true);
		const load = (sandbox as unknown as { load(): { mostInFlight: number; refusedOverLimit: number } }).load();
		expect(load.mostInFlight).toBeLessThanOrEqual(20);
		expect(load.refusedOverLimit).toBeGreaterThan(0); // it did probe the ceiling
		expect(load.refusedOverLimit).toBeLessThan(50);
		expect(sandbox.counts()).toMatchObject({ create: 1000 + load.refusedOverLimit, created: 1000 });
	});

	it('Get with many items shares the same limit: every file fetched, in order, within what Copernica takes', async () => {
		sandbox.setOptions({ readyAfterMs: 0, fileSize: 2000 });
		const ids = await Promise.all(emails(40).map(async ({ email }) => {
			const res = await fetch(`${sandbox.url}/v3/email/${encodeURIComponent(email)}/datarequest?access_token=${sandbox.token}`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
			return res.headers.get('x-created') as string;
		}));
		sandbox.setOptions({ maxConcurrentCalls: 6 });
		sandbox.addFault({ type: 'slow', delayMs: 20, times: Infinity });
		inFlight.max = 0;
		const { run, output } = await runNode(sandbox, { operation: 'get', requestId: '={{ $json.id }}', returnAs: 'json' }, { items: ids.map((id) => ({ id })) });
		expect(run.error).toBeUndefined();
		expect(output!.map((item) => [item.json.id, item.json.status])).toEqual(ids.map((id) => [id, 'available']));
		const load = (sandbox as unknown as { load(): { mostInFlight: number; refusedOverLimit: number } }).load();
		expect(load.mostInFlight).toBeLessThanOrEqual(6);
		expect(inFlight.max).toBeGreaterThan(4); // it grew past the start
	});

	it('honours a 429: the item waits for Retry-After and succeeds, the others keep their order', async () => {
		sandbox.addFault({ type: 'rate-limit', retryAfter: 1, times: 2, match: { kind: 'create' } });
		const { run, output } = await runNode(sandbox, create({ concurrency: 3 }), { items: emails(6) });
		expect(run.error).toBeUndefined();
		// Each refused item slept what Retry-After said (plus jitter), no less.
		expect(sleeps).toHaveLength(2);
		for (const ms of sleeps) expect(ms).toBeGreaterThanOrEqual(1000);
		expect(output!.map((item) => item.json.subject)).toEqual(emails(6).map((item) => item.email));
		expect(sandbox.counts()).toMatchObject({ create: 8, created: 6 });
	});
});
