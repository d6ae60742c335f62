// Create and Wait, the half that runs in the engine: the data request is created with this
// execution's resume URL as report, and the execution ends waiting. The other half (Copernica
// posts the file to the resume URL, forged posts, the maximum wait) needs n8n's webhook server
// and wait tracker: test/e2e/wait.e2e.test.js and test/e2e/webhooks.e2e.test.js.
import type { INodeParameters } from 'n8n-workflow';

import { RESUME_CHECK_PARAMETER } from '../../nodes/Copernica/helpers/resumeUrl';
import { cleanupEngine } from './harness';
import { dataRequestOf, everythingStoredOf, runNode, startCopernica, TOKEN, type Sandbox } from './copernica';

let sandbox: Sandbox;
beforeAll(async () => {
	sandbox = await startCopernica({ readyAfterMs: Infinity });
});
afterAll(async () => {
	await sandbox.close();
	await cleanupEngine();
});
beforeEach(() => {
	sandbox.reset();
	sandbox.clearFaults();
});

const createAndWait = (email: string, options: INodeParameters = {}): INodeParameters => ({
	operation: 'createAndWait',
	subjectType: 'email',
	subject: email,
	options,
});

it('creates the request with the resume URL as report and ends waiting: no worker, no polling', async () => {
	const before = Date.now();
	const { run, output } = await runNode(sandbox, createAndWait('waiter@example.com', { maxWaitHours: 2 }));
	expect(run.error).toBeUndefined();
	expect(run.status).toBe('waiting');
	expect(run.statusUpdates).toContain('waiting');
	expect(run.waitTill!.getTime()).toBeGreaterThanOrEqual(before + 2 * 3_600_000);
	expect(run.waitTill!.getTime()).toBeLessThan(Date.now() + 2 * 3_600_000);
	const pending = output![0].json;
	expect(pending).toEqual({
		id: pending.id,
		subjectType: 'email',
		subject: 'waiter@example.com',
		status: 'pending',
		requestedAt: expect.any(String),
		requestReceivedAt: expect.any(String),
		dueBy: expect.any(String),
		extendedDueBy: expect.any(String),
		waitingUntil: run.waitTill!.toISOString(),
	});
	expect(output![0].pairedItem).toEqual({ item: 0 });

	// The resume URL arrives at Copernica exactly: n8n's URL, then this package's check value.
	const report = dataRequestOf(sandbox, pending.id as string).report as string;
	expect(report.startsWith(`${run.resumeUrl}?${RESUME_CHECK_PARAMETER}=`)).toBe(true);
	const check = new URL(report).searchParams.get(RESUME_CHECK_PARAMETER)!;
	expect(check).toMatch(/^[A-Za-z0-9_-]{43}$/);
	// The report URL opens the execution: the check stays out of everything stored (only its hash,
	// with the waiting item), and the token out of everything.
	expect(everythingStoredOf(run)).not.toContain(check);
	expect(everythingStoredOf(run)).not.toContain(TOKEN);
	expect(report).not.toContain(TOKEN);
	expect(sandbox.counts()).toMatchObject({ create: 1, status: 0, data: 0, bare: 0 });
});

it('refuses more than one item, before creating anything', async () => {
	const parameters = createAndWait('={{ $json.email }}');
	const items = [{ email: 'a@example.com' }, { email: 'b@example.com' }];
	const { run } = await runNode(sandbox, parameters, { items });
	expect(run.error?.message).toBe('Create and Wait waits for one file per execution, and got 2 items');
	expect(run.waitTill).toBeUndefined();
	const { output } = await runNode(sandbox, parameters, { items, continueOnFail: true });
	expect(output!.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
	expect(output!.every((item) => String(item.json.error).includes('one file per execution'))).toBe(true);
	expect(sandbox.counts().create).toBe(0);
});

it('a failed create does not wait: the error, as for Create', async () => {
	sandbox.addFault({ match: { kind: 'create' }, type: 'error', status: 400, message: 'No entity with supplied ID' });
	const { run } = await runNode(sandbox, createAndWait('nobody@example.com'));
	expect(run.error?.message).toBe('No entity with supplied ID');
	expect(run.waitTill).toBeUndefined();
});
