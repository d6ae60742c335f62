// Create and Wait: the execution waits (waitTill), the sandbox posts the file to the resume URL
//   (the harness's waiting-webhook server), and the execution continues with the file.
import type { INodeParameters } from 'n8n-workflow';

import { RESUME_CHECK_PARAMETER, resumeCheck } from '../../nodes/Copernica/helpers/resumeUrl';
import {
	cleanupEngine,
	getBinaryBuffer,
	resumeAfterWaitTill,
	startWaitingWebhookServer,
	type RunResult,
	type WaitingWebhookServer,
} from './harness';
import { dataRequestOf, everythingStoredOf, runNode, startCopernica, TOKEN, type Sandbox } from './copernica';

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

describe('Create and Wait', () => {
	let waiting: WaitingWebhookServer;
	beforeAll(async () => {
		waiting = await startWaitingWebhookServer();
	});
	afterAll(async () => waiting.close());

	const createAndWait = (email: string, options: INodeParameters = {}, extra: INodeParameters = {}): INodeParameters => ({
		operation: 'createAndWait',
		subjectType: 'email',
		email,
		...extra,
		options,
	});

	/** Runs until the execution waits; returns the run, the pending item and the report URL Copernica got. */
	async function startWaiting(email: string, options: INodeParameters = {}, extra: INodeParameters = {}) {
		const { run, output } = await runNode(sandbox, createAndWait(email, options, extra), { waitingServer: waiting });
		expect(run.error).toBeUndefined();
		const pending = output![0].json;
		const report = dataRequestOf(sandbox, pending.id as string).report as string;
		return { run, pending, report };
	}

	const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
		const response = await fetch(url, {
			method: 'POST',
			headers: { 'content-type': 'application/json', ...headers },
			body: typeof body === 'string' ? body : JSON.stringify(body),
		});
		return { status: response.status, body: await response.text() };
	};

	it('creates the request with the resume URL as report and ends waiting: no worker, no polling', async () => {
		sandbox.setOptions({ readyAfterMs: Infinity });
		const before = Date.now();
		const { run, pending, report } = await startWaiting('waiter@example.com', { maxWaitHours: 2 });
		expect(run.status).toBe('waiting');
		expect(run.statusUpdates).toContain('waiting');
		expect(run.waitTill!.getTime()).toBeGreaterThanOrEqual(before + 2 * 3_600_000);
		expect(run.waitTill!.getTime()).toBeLessThan(Date.now() + 2 * 3_600_000);
		expect(pending).toEqual({
			id: pending.id,
			subjectType: 'email',
			subject: 'waiter@example.com',
			status: 'pending',
			requestedAt: expect.any(String),
			dueBy: expect.any(String),
			waitingUntil: run.waitTill!.toISOString(),
		});
		expect(run.runData.Copernica[0].data!.main[0]![0].pairedItem).toEqual({ item: 0 });

		// The resume URL arrives at Copernica exactly: n8n's URL, then this package's check value.
		const node = run.engineContext.workflow.nodes.find((n) => n.name === 'Copernica')!;
		const check = resumeCheck(TOKEN, [run.executionId, node.id!, 'email', 'waiter@example.com']);
		expect(report).toBe(`${run.resumeUrl}?${RESUME_CHECK_PARAMETER}=${check}`);
		// The report URL opens the execution: it stays out of the output, and the token out of everything.
		expect(JSON.stringify(run.runData)).not.toContain(check);
		expect(everythingStoredOf(run)).not.toContain(TOKEN);
		expect(report).not.toContain(TOKEN);
		expect(sandbox.counts()).toMatchObject({ create: 1, status: 0, data: 0, bare: 0 });
	});

	it('continues with the file when Copernica posts it to the resume URL', async () => {
		sandbox.setOptions({ readyAfterMs: 60_000, clockSpeed: 60 });
		const { run, pending } = await startWaiting("o'brien+wait@example.com");
		const resumed = await waiting.waitForResume(run.executionId, 15_000);
		expect(resumed.webhook.statusCode).toBe(200);
		expect(resumed.webhook.responseBody).toEqual({ received: true });
		expect(resumed.run!.status).toBe('success');
		const item = resumed.run!.outputOf('Copernica')[0];
		expect(item.pairedItem).toEqual({ item: 0 });
		expect(item.json).toMatchObject({
			id: pending.id,
			status: 'available',
			subjectType: 'email',
			subject: "o'brien+wait@example.com",
			requestedAt: pending.requestedAt,
			dueBy: pending.dueBy,
			info: { type: 'email', id: "o'brien+wait@example.com" },
		});
		expect(item.json.waitingUntil).toBeUndefined();
		expect(Array.isArray(item.json.data)).toBe(true);
		expect(item.json.summary).toMatchObject({ groups: (item.json.data as unknown[]).length });
		// The sandbox records a delivery once it has read the answer.
		await sandbox.waitForDeliveries(1);
		expect(item.json.contentLength).toBe(sandbox.deliveries[0].bytes);
		expect(new Date(item.json.receivedAt as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
		expect(resumed.run!.runData.Copernica).toHaveLength(1);
		expect(sandbox.deliveries).toMatchObject([{ ok: true, status: 200 }]);
		// Nothing was polled: the create was the only call.
		expect(sandbox.counts()).toMatchObject({ create: 1, status: 0, data: 0, bare: 0 });
	});

	it('T = 0 s: a file that is ready at once continues the execution', async () => {
		// Copernica may post before n8n has stored the waiting execution; n8n then answers 409 (the
		// harness: 404) and the delivery only succeeds if Copernica tries again (the sandbox does;
		// Copernica's retries are not documented). The attempts are logged.
		sandbox.setOptions({ readyAfterMs: 0, reportRetries: 5, reportRetryDelayMs: 300 });
		const { run } = await startWaiting('instant@example.com');
		const resumed = await waiting.waitForResume(run.executionId, 15_000);
		expect(resumed.run!.outputOf('Copernica')[0].json).toMatchObject({ status: 'available' });
		await sandbox.waitForDeliveries(1);
		const deliveries = sandbox.deliveries as Array<{ ok: boolean; status: number }>;
		expect(deliveries[deliveries.length - 1]).toMatchObject({ ok: true, status: 200 });
		console.log(`Create and Wait, T = 0 s: delivery attempts ${JSON.stringify(deliveries.map((d) => d.status))}`);
	});

	it('returns the file as binary data.json with a summary when asked', async () => {
		sandbox.setOptions({ readyAfterMs: 60_000, clockSpeed: 60, fileSize: 200_000 });
		const { run } = await startWaiting('binary-wait@example.com', {}, { returnAs: 'binary', binaryPropertyName: 'file' });
		const resumed = await waiting.waitForResume(run.executionId, 15_000);
		const item = resumed.run!.outputOf('Copernica')[0];
		expect(item.json.data).toBeUndefined();
		expect(item.binary!.file).toMatchObject({ fileName: 'data.json', mimeType: 'application/json' });
		const bytes = await getBinaryBuffer(item.binary!.file);
		expect(JSON.parse(bytes.toString('utf8')).info.id).toBe('binary-wait@example.com');
		expect(item.json.summary).toMatchObject({ bytes: bytes.length });
	});

	it('refuses what is not this request\'s file, keeps waiting, and still takes the real one', async () => {
		sandbox.setOptions({ readyAfterMs: Infinity });
		const { run, pending, report } = await startWaiting('victim@example.com');
		const file = (type: string, id: string | number) => ({ info: { type, id }, data: [[{ forged: true }]] });
		const withoutCheck = report.replace(/[?&]copernica_check=[^&]*/, '');
		const refusals: Array<[string, string, unknown, number]> = [
			['no check value', withoutCheck, file('email', 'victim@example.com'), 401],
			['a wrong check value', report.replace(/copernica_check=[^&]*/, `copernica_check=${'A'.repeat(43)}`), file('email', 'victim@example.com'), 401],
			['another person', report, file('email', 'other@example.com'), 400],
			['another subject type', report, file('profile', 'victim@example.com'), 400],
			['not a data request file', report, { hello: 'world' }, 400],
			['an empty body', report, '', 400],
		];
		for (const [what, url, body, status] of refusals) {
			const answer = await post(url, body);
			expect([what, answer.status]).toEqual([what, status]);
			expect(answer.body).not.toContain('other@example.com');
		}
		expect(waiting.resumes.filter((r) => r.run?.executionId === run.executionId)).toHaveLength(0);
		expect(waiting.resumes.slice(-refusals.length).every((r) => r.webhook.workflowData === undefined)).toBe(true);

		// Copernica's own delivery still resumes the execution.
		const resumedPromise = waiting.waitForResume(run.executionId, 15_000);
		sandbox.makeReady(pending.id as string);
		let resumed = await resumedPromise;
		while (resumed.run === undefined) resumed = await waiting.waitForResume(run.executionId, 15_000);
		expect(resumed.run.outputOf('Copernica')[0].json).toMatchObject({ status: 'available', info: { id: 'victim@example.com' } });
		// A late second post finds the execution finished.
		expect((await post(report, file('email', 'victim@example.com'))).status).toBe(409);
	});

	it('at the maximum wait continues with status "pending" and the ID, and Get finishes the job', async () => {
		sandbox.setOptions({ readyAfterMs: Infinity });
		const { run, pending } = await startWaiting('late@example.com', { maxWaitHours: 0.5 });
		// n8n's wait tracker, at waitTill: no webhook call, the node's stored input goes through.
		const timedOut: RunResult = await resumeAfterWaitTill(run);
		expect(timedOut.status).toBe('success');
		const item = timedOut.outputOf('Copernica')[0];
		expect(item.json).toEqual(pending);
		expect(item.pairedItem).toEqual({ item: 0 });

		sandbox.makeReady(pending.id as string);
		const { output } = await runNode(sandbox, { operation: 'get', requestId: '={{ $json.id }}' }, { items: [item.json] });
		expect(output![0].json).toMatchObject({ id: pending.id, status: 'available', info: { id: 'late@example.com' } });
	});

	it('refuses more than one item, before creating anything', async () => {
		const parameters = createAndWait('={{ $json.email }}');
		const items = [{ email: 'a@example.com' }, { email: 'b@example.com' }];
		const { run } = await runNode(sandbox, parameters, { items, waitingServer: waiting });
		expect(run.error?.message).toBe('Create and Wait waits for one file per execution, and got 2 items');
		expect(run.waitTill).toBeUndefined();
		const { output } = await runNode(sandbox, parameters, { items, waitingServer: waiting, continueOnFail: true });
		expect(output!.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(output!.every((item) => String(item.json.error).includes('one file per execution'))).toBe(true);
		expect(sandbox.counts().create).toBe(0);
	});

	it('a failed create does not wait: the error, as for Create', async () => {
		sandbox.addFault({ match: { kind: 'create' }, type: 'error', status: 400, message: 'No entity with supplied ID' });
		const { run } = await runNode(sandbox, createAndWait('nobody@example.com'), { waitingServer: waiting });
		expect(run.error?.message).toBe('No entity with supplied ID');
		expect(run.waitTill).toBeUndefined();
	});
});
