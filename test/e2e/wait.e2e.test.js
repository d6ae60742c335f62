// Create and Wait in real n8n (1.x and 2.x), with the sandbox standing in for Copernica: the
// execution is stored as waiting, Copernica posts the file to n8n's own resume URL (on 2.x it
// carries n8n's ?signature= token), forged posts are refused and the execution keeps waiting,
// it survives a restart of n8n, and at the maximum wait n8n continues it with status "pending".
// Set E2E_PACKAGE_DIR to pack another build than the repository's dist/.
const path = require('path');

const { ensureN8n } = require('./install-n8n');
const { startN8n, packPackage, httpRequest } = require('./n8n');
const { startSandbox } = require('../sandbox');

const ROOT = path.resolve(__dirname, '..', '..');
const TOKEN = 'e2e-wait-token-3b7c1f9a2d4e';
const CREDENTIAL_ID = 'copernicaWaitSbx';

jest.setTimeout(15 * 60 * 1000);

let tarball;
let sandbox;
beforeAll(async () => {
	tarball = packPackage(process.env.E2E_PACKAGE_DIR || ROOT);
	sandbox = await startSandbox({ token: TOKEN, readyAfterMs: Infinity });
});
afterAll(async () => {
	await sandbox?.close();
});

function createAndWaitWorkflow(name, email, options = {}) {
	return {
		name,
		nodes: [
			{ id: 'm1', name: 'Manual', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{
				id: 'c1',
				name: 'Create and Wait',
				type: 'n8n-nodes-copernica.copernicaDataRequest',
				typeVersion: 1,
				position: [200, 0],
				parameters: { operation: 'createAndWait', subjectType: 'email', subject: email, returnAs: 'json', options },
				credentials: { copernicaApi: { id: CREDENTIAL_ID, name: CREDENTIAL_ID } },
			},
			{ id: 'n1', name: 'After', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [400, 0], parameters: {} },
		],
		connections: {
			Manual: { main: [[{ node: 'Create and Wait', type: 'main', index: 0 }]] },
			'Create and Wait': { main: [[{ node: 'After', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const waitingOrDone = (e) => e.status === 'waiting' || e.finished === true || ['success', 'error', 'crashed', 'canceled'].includes(e.status);

describe.each([[1], [2]])('n8n %i.x', (major) => {
	let n8n;

	beforeAll(async () => {
		sandbox.reset();
		ensureN8n(major);
		n8n = await startN8n({
			major,
			packageTarball: tarball,
			credentials: [
				{ id: CREDENTIAL_ID, name: 'Copernica (sandbox)', type: 'copernicaApi', data: { apiVersion: 'v3', accessToken: TOKEN, baseUrl: sandbox.url } },
			],
		});
	});
	afterAll(async () => {
		await n8n?.stop();
	});

	/** Runs the workflow until its execution waits; returns the execution, the pending item and the report URL. */
	async function startWaiting(email, options) {
		const { id } = (await n8n.api('POST', '/workflows', createAndWaitWorkflow(`Create and Wait ${email}`, email, options))).body;
		const run = await n8n.executeWorkflow(id, { done: waitingOrDone });
		expect({ email, status: run.status, error: run.error }).toEqual({ email, status: 'waiting', error: undefined });
		const [pending] = run.output('Create and Wait');
		const request = sandbox.dataRequests.get(pending.id);
		return { run, pending, report: request.report };
	}

	async function waitForStatus(executionId, statuses, timeoutMs) {
		const deadline = Date.now() + timeoutMs;
		let execution;
		while (Date.now() < deadline) {
			execution = await n8n.execution(executionId);
			if (statuses.includes(execution.status)) return execution;
			await sleep(500);
		}
		throw new Error(`execution ${executionId} is ${execution?.status} after ${timeoutMs} ms`);
	}

	const output = (execution, node) => {
		const runs = execution.data.resultData.runData[node] ?? [];
		return (runs[runs.length - 1]?.data?.main?.[0] ?? []).map((item) => item.json);
	};

	const post = async (url, body) => {
		const { status, text } = await httpRequest('POST', url, { json: body });
		return { status, text };
	};

	it('waits, refuses forged posts, survives a restart, resumes with the file; times out with "pending"', async () => {
		// Started first: its maximum wait (0.01 h = 36 s) runs out while the other scenario goes on.
		const late = await startWaiting('late@example.com', { maxWaitHours: 0.01 });
		const waiter = await startWaiting('waiter@example.com');

		const base = `${n8n.baseUrl}/webhook-waiting/${waiter.run.id}`;
		// n8n's resume URL, then the package's check value; 2.x signs its own with ?signature=.
		if (major === 1) expect(waiter.report).toMatch(new RegExp(`^${base}\\?copernica_check=[A-Za-z0-9_-]{43}$`));
		else expect(waiter.report).toMatch(new RegExp(`^${base}\\?signature=[^&]+&copernica_check=[A-Za-z0-9_-]{43}$`));
		expect(waiter.report).not.toContain(TOKEN);
		expect(waiter.run.execution.waitTill).toBeTruthy();

		const file = (id) => ({ info: { type: 'email', id }, data: [[{ forged: true }]] });
		const refused = [
			['another person', waiter.report, file('other@example.com'), 400],
			['no check value', waiter.report.replace(/&?copernica_check=[^&]*/, ''), file('waiter@example.com'), 401],
			['not a file', waiter.report, { hello: 'world' }, 400],
		];
		if (major === 2) refused.push(['no n8n signature', waiter.report.replace(/signature=[^&]*&/, ''), file('waiter@example.com'), 401]);
		for (const [what, url, body, status] of refused) {
			const answer = await post(url, body);
			expect({ what, status: answer.status }).toEqual({ what, status });
		}
		expect((await n8n.execution(waiter.run.id)).status).toBe('waiting');

		// Stored, not held in memory: a restart does not lose it.
		await n8n.restart();
		expect((await n8n.execution(waiter.run.id)).status).toBe('waiting');

		// A new access token in the credential while the execution waits: the check value is the
		// wait's own, so Copernica's genuine post still continues it.
		const credential = (await n8n.rest('GET', `/credentials/${CREDENTIAL_ID}?includeData=true`)).body.data;
		await n8n.rest('PATCH', `/credentials/${CREDENTIAL_ID}`, {
			name: credential.name,
			type: credential.type,
			data: { ...credential.data, accessToken: 'e2e-wait-token-rotated-9f8e7d6c' },
		});

		sandbox.makeReady(waiter.pending.id);
		const resumed = await waitForStatus(waiter.run.id, ['success', 'error'], 60_000);
		expect(resumed.status).toBe('success');
		const [item] = output(resumed, 'Create and Wait');
		expect(item).toMatchObject({ id: waiter.pending.id, status: 'available', info: { type: 'email', id: 'waiter@example.com' } });
		expect(item.data.length).toBeGreaterThan(0);
		expect(output(resumed, 'After')).toHaveLength(1);
		const delivery = sandbox.deliveries.find((d) => d.requestId === waiter.pending.id && d.ok);
		expect(delivery).toMatchObject({ status: 200 });

		// n8n's wait tracker looks for due executions once a minute.
		const timedOut = await waitForStatus(late.run.id, ['success', 'error'], 150_000);
		expect(timedOut.status).toBe('success');
		// At the maximum wait n8n passes the stored item through: the request, and the hash (only)
		// of the check value that the report URL carried.
		const stored = { ...late.pending, resumeCheckSha256: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) };
		expect(output(timedOut, 'Create and Wait')).toEqual([stored]);
		expect(output(timedOut, 'After')).toEqual([stored]);
		expect(JSON.stringify(output(timedOut, 'After'))).not.toContain(new URL(late.report).searchParams.get('copernica_check'));
		expect(late.pending).toMatchObject({ status: 'pending', subject: 'late@example.com' });
		expect(sandbox.counts()).toMatchObject({ create: 2, status: 0, data: 0 });
		console.log(`n8n ${major}.x: report URL form ${waiter.report.replace(/=[^&]+/g, '=...')}`);
	});
});
