// The package in real n8n, as a user's instance has it: packed with npm pack, installed as a
// community package, driven through n8n's own REST and webhook endpoints, on n8n 1.x and 2.x.
// The local Copernica sandbox stands in for Copernica.
const path = require('path');

const { ensureN8n } = require('./install-n8n');
const { countInFile, startN8n, packPackage } = require('./n8n');
const { startSandbox } = require('../sandbox');
const { createExamples, webhookWorkflows } = require('../../scripts/examples');

const ROOT = path.resolve(__dirname, '..', '..');
const GOOD_TOKEN = 'e2e-good-token-8c41d7f2a9b3';
const BAD_TOKEN = 'e2e-bad-token-5e9a0b1c2d3f';
const CREDENTIAL_ID = 'copernicaSandbox';
const BAD_CREDENTIAL_ID = 'copernicaBadTokn';

jest.setTimeout(15 * 60 * 1000);

let tarball;
let sandbox;
beforeAll(async () => {
	tarball = packPackage(ROOT);
	sandbox = await startSandbox({ token: GOOD_TOKEN });
});
afterAll(async () => {
	await sandbox?.close();
});

function createWorkflow(email, credentialId) {
	return {
		name: `Create with ${credentialId}`,
		nodes: [
			{ id: 'm1', name: 'Manual', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{
				id: 'c1',
				name: 'Create',
				type: 'n8n-nodes-copernica.copernicaDataRequest',
				typeVersion: 1,
				position: [200, 0],
				parameters: { operation: 'create', subjectType: 'email', subject: email, report: '' },
				credentials: { copernicaApi: { id: credentialId, name: credentialId } },
			},
		],
		connections: { Manual: { main: [[{ node: 'Create', type: 'main', index: 0 }]] } },
		settings: { executionOrder: 'v1' },
	};
}


const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each([[1], [2]])('n8n %i.x', (major) => {
	let n8n;
	let workflows;
	let examples;
	const label = (scenario) => `n8n ${major}.x, scenario ${scenario}`;

	beforeAll(async () => {
		ensureN8n(major);
		n8n = await startN8n({
			major,
			packageTarball: tarball,
			credentials: [
				{ id: CREDENTIAL_ID, name: 'Copernica (sandbox)', type: 'copernicaApi', data: { apiVersion: 'v3', accessToken: GOOD_TOKEN, baseUrl: sandbox.url } },
				{ id: BAD_CREDENTIAL_ID, name: 'Copernica (bad token)', type: 'copernicaApi', data: { apiVersion: 'v3', accessToken: BAD_TOKEN, baseUrl: sandbox.url } },
			],
		});
		// Created through n8n's public API, as a user's tooling would, the way `npm start` does it.
		examples = await createExamples(n8n, { id: CREDENTIAL_ID, name: 'Copernica (sandbox)' });
		const { name, nodes, connections, settings } = createWorkflow('leak-check@example.com', BAD_CREDENTIAL_ID);
		workflows = {
			ticket: examples.workflows['1-ticket-to-data-request.json'],
			reply: examples.workflows['2-data-request-file-to-reply.json'],
			createAndGet: examples.workflows['3-create-and-get.json'],
			badToken: (await n8n.api('POST', '/workflows', { name, nodes, connections, settings })).body,
		};
		for (const workflow of webhookWorkflows(examples)) await n8n.activate(workflow.id);
		await n8n.waitForWebhook('webhook/gdpr-access-request');
		await n8n.waitForWebhook(examples.triggerUrl.slice(n8n.baseUrl.length + 1));
	});
	afterAll(async () => {
		await n8n?.stop();
	});
	beforeEach(() => {
		sandbox.reset();
		sandbox.clearFaults();
		sandbox.setOptions({ readyAfterMs: 0, reportContentType: 'json' });
	});

	it('1: create (email with + and \') then get: the file is about that email', async () => {
		const run = await n8n.executeWorkflow(workflows.createAndGet.id);
		expect({ scenario: label(1), status: run.status, error: run.error }).toEqual({ scenario: label(1), status: 'success', error: undefined });
		const [created] = run.output('Create data request');
		expect(created).toMatchObject({ subjectType: 'email', subject: "o'brien+test@example.com" });
		const [file] = run.output('Get the file');
		expect(file).toMatchObject({ id: created.id, status: 'available', info: { type: 'email', id: "o'brien+test@example.com" } });
		expect(file.data.length).toBeGreaterThan(0);
	});

	it('2: the trigger is the report target: ticket -> create -> Copernica posts the file -> reply workflow runs', async () => {
		const before = (await n8n.executions(workflows.reply.id)).length;
		const email = "o'brien+e2e@example.com";
		const answer = await n8n.request('POST', '/webhook/gdpr-access-request', { body: { ticket: 'T-1001', email } });
		expect({ scenario: label(2), status: answer.status }).toEqual({ scenario: label(2), status: 200 });
		expect(answer.body).toMatchObject({ ticket: 'T-1001', subject: email });

		const executions = await n8n.waitForExecutions(workflows.reply.id, before + 1, 60_000);
		const execution = await n8n.execution(executions[0].id);
		const runData = execution.data.resultData.runData;
		const received = runData['Copernica file arrives'][0].data.main[0][0];
		expect(received.json).toMatchObject({ info: { type: 'email', id: email }, query: { ticket: 'T-1001' } });
		expect(received.json.summary.entries).toBeGreaterThan(0);
		expect(received.binary.data).toMatchObject({ fileName: expect.stringMatching(/^copernica-data-request-.*\.json$/), mimeType: 'application/json' });
		// The file goes to the privacy team for review, not to the address inside it.
		const reply = runData['Compose the reply'][0].data.main[0][0].json;
		expect(reply).toMatchObject({ ticket: 'T-1001', to: 'privacy@example.com', subject: 'Data request file for ticket T-1001' });
		// The audit trail: one row in the data table, without the file.
		const rows = (await n8n.rest('GET', `/projects/${examples.table.projectId}/data-tables/${examples.table.id}/rows`)).body.data;
		const row = (rows.data ?? rows).find((r) => r.ticket === 'T-1001');
		expect(row).toMatchObject({ ticket: 'T-1001', subject: email, requestId: answer.body.requestId });
		expect(Object.keys(row).sort()).toEqual(['createdAt', 'dueBy', 'id', 'requestId', 'requestedAt', 'subject', 'ticket', 'updatedAt']);
		expect(sandbox.deliveries.filter((d) => d.ok)).toHaveLength(1);
	});

	it('3: forged POSTs to the trigger start no execution', async () => {
		const before = (await n8n.executions(workflows.reply.id)).length;
		const url = examples.triggerUrl.slice(n8n.baseUrl.length);
		const file = { info: { type: 'email', id: 'forged@example.com' }, data: [[]] };
		const forged = [
			[`${url}`, file, 401],
			[`${url}?secret=wrong`, file, 401],
			[`${url}?secret=${examples.secret}`, { hello: 'world' }, 400],
		];
		for (const [target, body, status] of forged) {
			const answer = await n8n.request('POST', target, { body, allowError: true });
			expect({ scenario: label(3), target, status: answer.status }).toEqual({ scenario: label(3), target, status });
		}
		await sleep(2000);
		expect((await n8n.executions(workflows.reply.id)).length).toBe(before);
	});

	it('4: an invalid token fails the execution, and the token is nowhere in the database or the log', async () => {
		const run = await n8n.executeWorkflow(workflows.badToken.id);
		expect({ scenario: label(4), status: run.status }).toEqual({ scenario: label(4), status: 'error' });
		expect(JSON.stringify(run.error)).toContain('Invalid access token');
		await sleep(1000); // let n8n flush the execution to the database
		const places = [n8n.dbPath, `${n8n.dbPath}-wal`, n8n.logFile];
		const found = places.map((file) => [path.basename(file), countInFile(file, BAD_TOKEN) + countInFile(file, GOOD_TOKEN)]);
		console.log(`${label(4)}: token occurrences in ${found.map(([f, n]) => `${f}: ${n}`).join(', ')}`);
		expect(found.every(([, count]) => count === 0)).toBe(true);
	});

	it('5: the credential test passes with a good token and fails with a bad one', async () => {
		expect(await n8n.testCredential(CREDENTIAL_ID)).toMatchObject({ status: 'OK' });
		const bad = await n8n.testCredential(BAD_CREDENTIAL_ID);
		expect({ scenario: label(5), ...bad }).toMatchObject({ scenario: label(5), status: 'Error' });
		expect(bad.message).toContain('Invalid access token');
		expect(bad.message).not.toContain(BAD_TOKEN);
	});
});
