// Subject Type "Person" in real n8n (1.x and 2.x) against the sandbox's account of issue 13:
// a ticket's Create (Person) with the trigger's URL as report -> the sandbox posts every part's
// file to the trigger -> each execution says which set and which part it is -> Get of the set ->
// one bundle (a binary file whose bytes are { info, parts: [{ info, data }] }). And Create and
// Wait (Person): every part's post is a wake-up, answered 200 while parts are missing (the
// execution keeps waiting), and the execution continues with the bundle once all are in.
const crypto = require('crypto');
const path = require('path');

const { ensureN8n } = require('./install-n8n');
const { startN8n, packPackage } = require('./n8n');
const { startSandbox } = require('../sandbox');
const { ACCOUNT, PERSON } = require('../fixtures/person-account');

const ROOT = path.resolve(__dirname, '..', '..');
const TOKEN = 'e2e-person-token-6c1f9e2a4b7d';
const SECRET = 'e2e-person-secret-3a8d5f0c2e7b9';
const CREDENTIAL_ID = 'copernicaPersonSb';
const TRIGGER_PATH = 'copernica-data-request';
/** Jane's set: the email, then Find Person's order (the removed subprofile 1102 is not requested). */
const PARTS = [
	['email', PERSON],
	['profile', '1001'],
	['subprofile', '1101'],
	['subprofile', '1201'],
	['subprofile', '2201'],
	['profile', '3001'],
	['subprofile', '3101'],
];

jest.setTimeout(15 * 60 * 1000);

let tarball;
let sandbox;
beforeAll(async () => {
	tarball = packPackage(process.env.E2E_PACKAGE_DIR || ROOT);
	sandbox = await startSandbox({ token: TOKEN, account: ACCOUNT, fileSize: 4000 });
});
afterAll(async () => {
	await sandbox?.close();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const credentials = { copernicaApi: { id: CREDENTIAL_ID, name: CREDENTIAL_ID } };

/** Manual -> Copernica Data Request -> After. */
const copernicaWorkflow = (name, parameters) => ({
	name,
	nodes: [
		{ id: 'm1', name: 'Manual', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		{ id: 'c1', name: 'Copernica', type: 'n8n-nodes-copernica.copernicaDataRequest', typeVersion: 1, position: [200, 0], parameters, credentials },
		{ id: 'n1', name: 'After', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [400, 0], parameters: {} },
	],
	connections: {
		Manual: { main: [[{ node: 'Copernica', type: 'main', index: 0 }]] },
		Copernica: { main: [[{ node: 'After', type: 'main', index: 0 }]] },
	},
	settings: { executionOrder: 'v1' },
});

function itemOf(execution, nodeName) {
	const runs = execution.data.resultData.runData[nodeName] ?? [];
	return runs[runs.length - 1]?.data?.main?.[0]?.[0];
}

const typeAndId = (info) => [info.type, String(info.id)];

describe.each([[1], [2]])('n8n %i.x', (major) => {
	let n8n;
	let trigger;
	const hook = () => `${n8n.baseUrl}/webhook/${trigger.webhookId}/${TRIGGER_PATH}`;

	async function bytesOf(binary) {
		if (!binary.id) return Buffer.from(binary.data, 'base64');
		const answer = await n8n.rest('GET', `/binary-data?id=${encodeURIComponent(binary.id)}&action=download`);
		return Buffer.from(answer.text);
	}

	async function finished(executionId, timeoutMs = 60_000) {
		const deadline = Date.now() + timeoutMs;
		let execution;
		while (Date.now() < deadline) {
			execution = await n8n.execution(executionId);
			if (['success', 'error', 'crashed'].includes(execution.status)) return execution;
			await sleep(300);
		}
		throw new Error(`execution ${executionId} is ${execution?.status} after ${timeoutMs} ms`);
	}

	beforeAll(async () => {
		ensureN8n(major);
		n8n = await startN8n({
			major,
			packageTarball: tarball,
			credentials: [{ id: CREDENTIAL_ID, name: 'Copernica (sandbox)', type: 'copernicaApi', data: { apiVersion: 'v3', accessToken: TOKEN, baseUrl: sandbox.url } }],
		});
		const webhookId = crypto.randomUUID();
		const workflow = {
			name: 'Person deliveries',
			nodes: [
				{
					id: 't1',
					name: 'Report',
					type: 'n8n-nodes-copernica.copernicaDataRequestTrigger',
					typeVersion: 1,
					position: [0, 0],
					webhookId,
					parameters: { secret: SECRET, returnAs: 'json' },
				},
			],
			connections: {},
			settings: { executionOrder: 'v1' },
		};
		const { id } = (await n8n.api('POST', '/workflows', workflow)).body;
		trigger = { id, webhookId };
		await n8n.activate(id);
		await n8n.waitForWebhook(`webhook/${webhookId}/${TRIGGER_PATH}`);
	});
	afterAll(async () => {
		await n8n?.stop();
	});
	beforeEach(() => {
		sandbox.reset();
		sandbox.clearFaults();
	});

	it('ticket -> Create (Person) -> every part posted to the trigger, which says set and part -> Get of the set -> one bundle', async () => {
		sandbox.setOptions({ readyAfterMs: Infinity });
		const before = (await n8n.executions(trigger.id)).length;
		const report = `${hook()}?secret=${encodeURIComponent(SECRET)}&ticket=T-1013`;
		const create = copernicaWorkflow('Create (Person)', { operation: 'create', subjectType: 'person', subject: PERSON, report });
		const { id: createId } = (await n8n.api('POST', '/workflows', create)).body;
		const run = await n8n.executeWorkflow(createId);
		expect({ status: run.status, error: run.error }).toEqual({ status: 'success', error: undefined });
		const [set] = run.output('Copernica');
		expect(set.requests.map((r) => [r.subjectType, r.subject])).toEqual(PARTS);
		expect(set.report).toBe(`${hook()}?secret=***&ticket=T-1013`);
		const key = set.id.split(':')[1];

		// Get before the files are ready: pending, with every part's status.
		const get = copernicaWorkflow('Get the set', { operation: 'get', requestId: set.id, returnAs: 'binary', binaryPropertyName: 'bundle' });
		const { id: getId } = (await n8n.api('POST', '/workflows', get)).body;
		const early = await n8n.executeWorkflow(getId);
		expect(early.output('Copernica')[0]).toEqual({ id: set.id, status: 'pending', parts: set.requests.map((r) => ({ id: r.id, status: 'pending' })) });

		for (const id of sandbox.dataRequests.keys()) sandbox.makeReady(id);
		const executions = await n8n.waitForExecutions(trigger.id, before + PARTS.length, 90_000);
		const deliveries = executions.slice(0, PARTS.length).map((execution) => {
			expect(execution.status).toBe('success');
			return itemOf(execution, 'Report').json;
		});
		// Each delivery says which set and which part it is; the ticket comes through; no secret.
		const byPart = deliveries.sort((a, b) => Number(a.query.part) - Number(b.query.part));
		expect(byPart.map((d) => d.query)).toEqual(PARTS.map((_, i) => ({ ticket: 'T-1013', set: key, part: String(i + 1), parts: String(PARTS.length) })));
		expect(byPart.map((d) => typeAndId(d.info))).toEqual(PARTS);
		expect(new Set(byPart.map((d) => d.deliveryKey)).size).toBe(PARTS.length);

		const done = await n8n.executeWorkflow(getId);
		expect(done.status).toBe('success');
		const execution = await n8n.execution(done.id);
		const item = itemOf(execution, 'Copernica');
		expect(item.json).toMatchObject({ id: set.id, status: 'available', info: { type: 'person', id: PERSON } });
		const bundle = JSON.parse((await bytesOf(item.binary.bundle)).toString('utf8'));
		expect(Object.keys(bundle)).toEqual(['info', 'parts']);
		expect(bundle.info).toEqual({ type: 'person', id: PERSON });
		expect(bundle.parts.map((part) => typeAndId(part.info))).toEqual(PARTS);
		for (const part of bundle.parts) expect(Object.keys(part)).toEqual(['info', 'data']);
		// The file Copernica posted for a part and the bundle's part are the same data.
		expect(bundle.parts[1].data).toEqual(byPart[1].data);
		expect(JSON.stringify(execution)).not.toContain(SECRET);
		expect(JSON.stringify(execution)).not.toContain(TOKEN);
	});

	it('Create and Wait (Person): each part\'s post is a wake-up; it keeps waiting until all are in, then continues with the bundle', async () => {
		sandbox.setOptions({ readyAfterMs: Infinity });
		const parameters = { operation: 'createAndWait', subjectType: 'person', subject: PERSON, returnAs: 'json', options: {} };
		const { id } = (await n8n.api('POST', '/workflows', copernicaWorkflow('Create and Wait (Person)', parameters))).body;
		const waitingOrDone = (e) => e.status === 'waiting' || ['success', 'error', 'crashed', 'canceled'].includes(e.status);
		const run = await n8n.executeWorkflow(id, { done: waitingOrDone });
		expect(run.status).toBe('waiting');
		const [pending] = run.output('Copernica');
		expect(pending).toMatchObject({ subjectType: 'person', subject: PERSON, status: 'pending' });
		expect(pending.requests.map((r) => [r.subjectType, r.subject])).toEqual(PARTS);
		const ids = pending.requests.map((r) => r.id);
		// Every part reports to the resume URL, saying its set and part.
		for (const [index, partId] of ids.entries()) {
			expect(sandbox.dataRequests.get(partId).report).toMatch(new RegExp(`copernica_check=[^&]+&set=[^&]+&part=${index + 1}&parts=${ids.length}$`));
		}

		// All but the last, one at a time: each post answered 200, the execution still waiting.
		for (const [index, partId] of ids.slice(0, -1).entries()) {
			sandbox.makeReady(partId);
			await sandbox.waitForDeliveries(index + 1, 30_000);
			const delivery = sandbox.deliveries[index];
			expect({ part: index + 1, ok: delivery.ok, status: delivery.status }).toEqual({ part: index + 1, ok: true, status: 200 });
			expect((await n8n.execution(run.id)).status).toBe('waiting');
		}
		const statusChecksBefore = sandbox.counts().status;
		sandbox.makeReady(ids[ids.length - 1]);
		const resumed = await finished(run.id);
		expect(resumed.status).toBe('success');
		const item = itemOf(resumed, 'Copernica');
		expect(item.pairedItem).toEqual({ item: 0 });
		expect(item.json).toMatchObject({
			id: pending.id,
			subjectType: 'person',
			subject: PERSON,
			status: 'available',
			requestedAt: pending.requestedAt,
			dueBy: pending.dueBy,
			info: { type: 'person', id: PERSON },
		});
		expect(item.json.parts.map((part) => typeAndId(part.info))).toEqual(PARTS);
		expect(item.json.parts.every((part) => Array.isArray(part.data))).toBe(true);
		expect(item.json.waitingUntil).toBeUndefined();
		expect(resumed.data.resultData.runData.Copernica).toHaveLength(1);
		// The last wake-up asked Copernica for every part's status (n8n's memory of earlier posts is not used).
		expect(sandbox.counts().status - statusChecksBefore).toBe(ids.length);
		await sandbox.waitForDeliveries(ids.length, 30_000);
		expect(sandbox.deliveries[ids.length - 1]).toMatchObject({ ok: true, status: 200 });
	});

	it('Create and Wait (Person) as a binary file: the bundle streamed into n8n\'s binary store from the resume webhook; a file of no part is refused', async () => {
		sandbox.setOptions({ readyAfterMs: Infinity, fileSize: 100_000 });
		const parameters = { operation: 'createAndWait', subjectType: 'person', subject: PERSON, returnAs: 'binary', binaryPropertyName: 'bundle', options: {} };
		const { id } = (await n8n.api('POST', '/workflows', copernicaWorkflow('Create and Wait (Person), binary', parameters))).body;
		const waitingOrDone = (e) => e.status === 'waiting' || ['success', 'error', 'crashed', 'canceled'].includes(e.status);
		const run = await n8n.executeWorkflow(id, { done: waitingOrDone });
		expect(run.status).toBe('waiting');
		const [pending] = run.output('Copernica');
		const ids = pending.requests.map((r) => r.id);

		// Someone else's file, posted with the right URL: refused, and the execution keeps waiting.
		const report = sandbox.dataRequests.get(ids[0]).report;
		const forged = await fetch(report, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ info: { type: 'profile', id: 2001 }, data: [] }),
		});
		expect(forged.status).toBe(400);
		expect((await n8n.execution(run.id)).status).toBe('waiting');

		for (const [index, partId] of ids.entries()) {
			sandbox.makeReady(partId);
			if (index < ids.length - 1) await sandbox.waitForDeliveries(index + 1, 30_000);
		}
		const resumed = await finished(run.id);
		expect(resumed.status).toBe('success');
		const item = itemOf(resumed, 'Copernica');
		expect(item.json).toMatchObject({ id: pending.id, status: 'available', info: { type: 'person', id: PERSON } });
		expect(item.json.parts.map((part) => typeAndId(part.info))).toEqual(PARTS);
		expect(item.binary.bundle).toMatchObject({ mimeType: 'application/json', fileName: `copernica-data-request-person-${pending.id.split(':')[1]}.json` });
		const bytes = await bytesOf(item.binary.bundle);
		expect(bytes.length).toBeGreaterThan(PARTS.length * 100_000);
		const bundle = JSON.parse(bytes.toString('utf8'));
		expect(bundle.info).toEqual({ type: 'person', id: PERSON });
		expect(bundle.parts.map((part) => typeAndId(part.info))).toEqual(PARTS);
		expect(item.json.summary).toMatchObject({ parts: PARTS.length });
	});
});
