// Get of a set with "Wait for File", on virtual time (./virtual-time): every check asks for every
// part, the checks follow Get's schedule (0, 1, 3, 7 s, ...), and the wait ends when the last part
// is ready, or with "pending" and each part's status when time runs out.
jest.mock('n8n-workflow', () => require('./virtual-time').workflowWithVirtualSleep());

import type { IDataObject } from 'n8n-workflow';

import { cleanupEngine } from './harness';
import { runNode, startCopernica, type Sandbox } from './copernica';
import { sleeps, useVirtualTime } from './virtual-time';

useVirtualTime();

let sandbox: Sandbox;
beforeAll(async () => {
	sandbox = await startCopernica({ fileSize: 2000 });
});
afterAll(async () => {
	await sandbox.close();
	await cleanupEngine();
});
beforeEach(() => sandbox.reset());

/** Two email requests ready `readyAfterMs` after their create (sandbox clock). */
async function twoRequests(readyAfterMs: number): Promise<string[]> {
	sandbox.setOptions({ readyAfterMs });
	const ids: string[] = [];
	for (const email of ['a@example.com', 'b@example.com']) {
		const { output } = await runNode(sandbox, { operation: 'create', subjectType: 'email', subject: email });
		ids.push(output![0].json.id as string);
	}
	sandbox.requests.length = 0;
	return ids;
}

const calls = () => {
	const { status, data } = sandbox.counts();
	return { status, data };
};

it('waits until every part is ready: one status call per part and check, then one download per part', async () => {
	const ids = await twoRequests(5000);
	const before = calls();
	const { output } = await runNode(sandbox, { operation: 'get', requestId: ids.join(','), returnAs: 'json', waitForFile: true, options: {} });
	const json = output![0].json;
	expect(json).toMatchObject({ status: 'available', checks: 4, waitedSeconds: 7 });
	expect((json.parts as IDataObject[]).map((p) => (p.info as IDataObject).id)).toEqual(['a@example.com', 'b@example.com']);
	expect(sleeps).toEqual([1000, 2000, 4000]);
	const after = calls();
	expect({ status: after.status - before.status, data: after.data - before.data }).toEqual({ status: 8, data: 2 });
});

it('returns "pending" with each part\'s status when time runs out, or fails when told to', async () => {
	const ids = await twoRequests(3_600_000);
	sandbox.makeReady(ids[1]);
	const get = { operation: 'get', requestId: ids.join(','), returnAs: 'json', waitForFile: true, maxWaitSeconds: 10, options: {} };
	const { output } = await runNode(sandbox, get);
	expect(output![0].json).toEqual({
		id: ids.join(','),
		status: 'pending',
		parts: [
			{ id: ids[0], status: 'pending' },
			{ id: ids[1], status: 'available' },
		],
		checks: 5,
		waitedSeconds: 10,
	});
	const { run } = await runNode(sandbox, { ...get, onTimeout: 'error' });
	expect(run.error?.message).toBe("The set's files were not all ready within 10 seconds");
	expect((run.error as { description?: string }).description).toContain('1 of 2 are');
});
