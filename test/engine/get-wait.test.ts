// Get with "Wait for File" against the sandbox: bounded polling with backoff. Every API call is
// counted, because Copernica bills them. Time is virtual (./virtual-time): the node's sleeps move
// the clock that the node and the sandbox share, so the schedule is asserted exactly, at full
// scale, in no real time, however busy the machine is.
jest.mock('n8n-workflow', () => require('./virtual-time').workflowWithVirtualSleep());

import type { INodeParameters } from 'n8n-workflow';

import { cleanupEngine } from './harness';
import { everythingStoredOf, runNode, startCopernica, TOKEN, TOOL_TYPE, type Sandbox } from './copernica';
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

/** A request created directly in the sandbox state, so that only Get's calls are counted. */
async function createRequest(email: string): Promise<string> {
	const { output } = await runNode(sandbox, { operation: 'create', subjectType: 'email', subject: email });
	sandbox.requests.length = 0;
	return output![0].json.id as string;
}

/** Calls per kind since the create: what Get cost. */
function getCalls() {
	const { status, data, bare } = sandbox.counts();
	return { status, data, bare };
}

/** When (sandbox clock, seconds after the first) each status check arrived. */
function statusTimes(): number[] {
	const times = sandbox.requests.filter((r) => r.kind === 'status').map((r) => Date.parse((r as { time?: string }).time!));
	return times.map((t) => (t - times[0]) / 1000);
}

/** Get with Wait for File; `settings` are its own (maxWaitSeconds, onTimeout), the rest is Options. */
const waitingGet = (requestId: string, settings: INodeParameters = {}, extra: INodeParameters = {}): INodeParameters => {
	const { maxWaitSeconds, onTimeout, ...options } = settings;
	return {
		operation: 'get',
		requestId,
		returnAs: 'json',
		waitForFile: true,
		...(maxWaitSeconds !== undefined ? { maxWaitSeconds } : {}),
		...(onTimeout !== undefined ? { onTimeout } : {}),
		...extra,
		options,
	};
};

describe('Get: Wait for File', () => {
	it('T = 0 s: one status call and the download', async () => {
		const id = await createRequest('ready@example.com');
		const { output } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 60 }));
		expect(output![0].json).toMatchObject({ id, status: 'available', info: { id: 'ready@example.com' }, checks: 1 });
		expect(getCalls()).toEqual({ status: 1, data: 1, bare: 0 });
		expect(sleeps).toEqual([]);
	});

	it('T = 5 s: checks at 0, 1, 3 and 7 s, then the download', async () => {
		sandbox.setOptions({ readyAfterMs: 5_000 });
		const id = await createRequest('five@example.com');
		const { output } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 30 }));
		expect(output![0].json).toMatchObject({ id, status: 'available', checks: 4 });
		expect(Array.isArray(output![0].json.data)).toBe(true);
		expect(getCalls()).toEqual({ status: 4, data: 1, bare: 0 });
		expect(statusTimes()).toEqual([0, 1, 3, 7]);
	});

	it('T = 60 s: 7 checks (0, 1, 3, 7, 15, 31, 63 s), then the download', async () => {
		sandbox.setOptions({ readyAfterMs: 60_000 });
		const id = await createRequest('sixty@example.com');
		const { output } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 300 }));
		expect(output![0].json).toMatchObject({ id, status: 'available', checks: 7 });
		expect(getCalls()).toEqual({ status: 7, data: 1, bare: 0 });
		expect(statusTimes()).toEqual([0, 1, 3, 7, 15, 31, 63]);
	});

	it('the interval stops growing at the maximum poll interval', async () => {
		sandbox.setOptions({ readyAfterMs: 10 * 60_000 });
		const id = await createRequest('ten-minutes@example.com');
		const { output } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 3600 }));
		expect(output![0].json).toMatchObject({ status: 'available' });
		// 1, 2, 4, ... 32, then the default cap of 60 s
		expect(sleeps).toEqual([1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60, 60, 60, 60].map((s) => s * 1000));
	});

	it('never ready: stops at the maximum wait and says "pending" (checks at 0, 1, 3, 7, 10 s)', async () => {
		sandbox.setOptions({ readyAfterMs: Infinity });
		const id = await createRequest('never@example.com');
		const { run, output } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 10 }));
		expect(run.error).toBeUndefined();
		expect(output![0].json).toMatchObject({ id, status: 'pending', checks: 5, waitedSeconds: 10 });
		expect(getCalls()).toEqual({ status: 5, data: 0, bare: 0 });
		expect(statusTimes()).toEqual([0, 1, 3, 7, 10]);
	});

	it('never ready, "When Time Runs Out" = Fail: the item fails and says what to do', async () => {
		sandbox.setOptions({ readyAfterMs: Infinity });
		const id = await createRequest('fail@example.com');
		const parameters = waitingGet(id, { maxWaitSeconds: 5, onTimeout: 'error' });
		const { run } = await runNode(sandbox, parameters);
		expect(run.error?.message).toBe(`The file of data request ${id} was not ready within 5 seconds`);
		expect(run.error?.description).toContain('Run Get again later');
		const { output } = await runNode(sandbox, parameters, { continueOnFail: true });
		expect(output![0]).toMatchObject({ json: { error: run.error?.message }, pairedItem: { item: 0 } });
	});

	it("as an AI agent's tool, stops checking after 60 seconds whatever the setting", async () => {
		sandbox.setOptions({ readyAfterMs: Infinity });
		const id = await createRequest('agent@example.com');
		const { output } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 3600 }), { nodeType: TOOL_TYPE });
		expect(output![0].json).toMatchObject({ status: 'pending', waitedSeconds: 60 });
		expect(statusTimes()).toEqual([0, 1, 3, 7, 15, 31, 60]);
	});

	it('a cancelled execution stops checking at once', async () => {
		sandbox.setOptions({ readyAfterMs: Infinity });
		const id = await createRequest('cancelled@example.com');
		let cancel: () => void = () => {};
		// The third wait never ends by itself: the node must return when the execution is cancelled.
		onSleep.current = (count) => {
			if (count !== 3) return;
			cancel();
			return 'hold';
		};
		const { run } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 3600 }), { onStart: (stop) => (cancel = stop) });
		expect(run.status).toBe('canceled');
		// Checks at 0, 1 and 3 s; cancelled during the third wait: no fourth check.
		expect(getCalls()).toEqual({ status: 3, data: 0, bare: 0 });
		expect(sleeps).toHaveLength(3);
	});

	it("an unknown or expired request stops the wait at once (\"not available\")", async () => {
		const { output } = await runNode(sandbox, waitingGet('777777', { maxWaitSeconds: 60 }));
		expect(output![0].json).toMatchObject({ id: '777777', status: 'not available', checks: 1 });
		expect(getCalls().status).toBe(1);
	});

	it("honours Copernica's Retry-After on a pending status: no check before it says", async () => {
		sandbox.setOptions({ readyAfterMs: Infinity, statusRetryAfter: 2 });
		const id = await createRequest('slowdown@example.com');
		const { output } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 5 }));
		// 0, 2, 4 s (without Retry-After: 0, 1, 3, 5 s); at 4 s the next 2 s would pass the deadline
		expect(output![0].json).toMatchObject({ status: 'pending', checks: 3 });
		expect(statusTimes()).toEqual([0, 2, 4]);
	});

	describe('on servers without /status', () => {
		it('asks /status once, then only /data (T = 5 s)', async () => {
			sandbox.setOptions({ statusEndpoint: false, readyAfterMs: 5_000 });
			const id = await createRequest('nostatus-wait@example.com');
			const { output } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 30 }));
			expect(output![0].json).toMatchObject({ status: 'available', checks: 4, info: { id: 'nostatus-wait@example.com' } });
			// /data answers the file itself when ready: no extra download
			expect(getCalls()).toEqual({ status: 1, data: 4, bare: 0 });
		});

		it('asks /status and /data once, then only the bare form', async () => {
			sandbox.setOptions({ statusEndpoint: false, dataEndpoint: false, readyAfterMs: 5_000 });
			const id = await createRequest('bare-wait@example.com');
			const { output } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 30 }));
			expect(output![0].json).toMatchObject({ status: 'available', checks: 4, info: { id: 'bare-wait@example.com' } });
			expect(getCalls()).toEqual({ status: 1, data: 1, bare: 4 });
		});
	});

	// These rely on the transport's retries (Options > Retries, default 3): a 429 or 503 inside a
	// check is retried there, so the wait goes on, at the cost of the extra calls counted here.
	describe('429 and 503 during the wait', () => {
		it('a 429 with Retry-After on a check is retried, and the wait goes on', async () => {
			sandbox.setOptions({ readyAfterMs: 5_000 });
			const id = await createRequest('ratelimited@example.com');
			sandbox.addFault({ match: { kind: 'status' }, type: 'rate-limit', retryAfter: 1, times: 1 });
			const { run, output } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 30 }));
			expect(run.error).toBeUndefined();
			expect(output![0].json).toMatchObject({ status: 'available' });
			const checks = output![0].json.checks as number;
			expect(getCalls()).toEqual({ status: checks + 1, data: 1, bare: 0 });
		});

		it('503 pages on checks are retried, and the wait goes on', async () => {
			sandbox.setOptions({ readyAfterMs: 5_000 });
			const id = await createRequest('unavailable@example.com');
			sandbox.addFault({ match: { kind: 'status' }, type: 'unavailable', status: 503, times: 2 });
			const { run, output } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 30 }));
			expect(run.error).toBeUndefined();
			expect(output![0].json).toMatchObject({ status: 'available' });
			expect(getCalls().status).toBe((output![0].json.checks as number) + 2);
		});

		it('a fault the transport gives up on ends the wait with that error, not with "pending"', async () => {
			sandbox.setOptions({ readyAfterMs: Infinity });
			const id = await createRequest('gaveup@example.com');
			sandbox.addFault({ match: { kind: 'status' }, type: 'rate-limit', times: Infinity });
			const { run } = await runNode(sandbox, waitingGet(id, { maxWaitSeconds: 30, retries: 0 }));
			expect(run.error?.message).toBe('Too many requests');
			expect(getCalls().status).toBe(1);
			expect(everythingStoredOf(run)).not.toContain(TOKEN);
		});
	});
});

