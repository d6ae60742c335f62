// The package in n8n's queue mode, on n8n 2.41.1 and 1.123.81: its own Postgres and Redis, n8n as
// main + 2 workers + 1 webhook processor (test/e2e/cluster.js), binary data mode `database`, the
// sandbox standing in for Copernica. Manual runs are offloaded to the workers
// (OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS), and every n8n URL given to Copernica (the trigger's
// production URL, Create and Wait's resume URL) is the webhook processor's, as WEBHOOK_URL makes it.
// Which worker ran an execution is read from the workers' logs ("Worker started execution N").
// One cluster at a time; `npx jest test/e2e/queue.e2e.test.js` (build first: the package is packed
// from dist/). QUEUE_E2E_MAJORS=2 runs one line only.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const { packPackage, httpRequest } = require('./n8n');
const { startCluster, countInLargeFile } = require('./cluster');
const { startSandbox } = require('../sandbox');

const ROOT = path.resolve(__dirname, '..', '..');
const TOKEN = 'e2e-queue-token-5c2e8a1f9b7d';
const SECRET = 'e2e-queue-secret-7d4b1e9c3a6f';
const CREDENTIAL_ID = 'copernicaQueueSbx';
const TRIGGER_PATH = 'copernica-data-request';
const MB = 1024 * 1024;
const MAJORS = (process.env.QUEUE_E2E_MAJORS || '2,1').split(',').map(Number);

jest.setTimeout(20 * 60 * 1000);

let tarball;
let sandbox;
beforeAll(async () => {
	tarball = packPackage(process.env.E2E_PACKAGE_DIR || ROOT);
	sandbox = await startSandbox({ token: TOKEN, logLimit: 20000 });
});
afterAll(async () => {
	await sandbox?.close();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const credentials = { copernicaApi: { id: CREDENTIAL_ID, name: CREDENTIAL_ID } };
const manual = { id: 'm1', name: 'Manual', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} };
const copernica = (id, name, parameters, extra = {}) => ({
	id,
	name,
	type: 'n8n-nodes-copernica.copernicaDataRequest',
	typeVersion: 1,
	position: [200, 0],
	parameters,
	credentials,
	...extra,
});
/** Nodes in a row, each feeding the next. */
const chain = (name, nodes) => ({
	name,
	nodes: nodes.map((node, index) => ({ ...node, position: [index * 200, 0] })),
	connections: Object.fromEntries(nodes.slice(0, -1).map((node, index) => [node.name, { main: [[{ node: nodes[index + 1].name, type: 'main', index: 0 }]] }])),
	settings: { executionOrder: 'v1' },
});
const noOp = { id: 'n1', name: 'After', type: 'n8n-nodes-base.noOp', typeVersion: 1, parameters: {} };
const trigger = (webhookId, parameters) => ({
	id: 't1',
	name: 'Report',
	type: 'n8n-nodes-copernica.copernicaDataRequestTrigger',
	typeVersion: 1,
	webhookId,
	parameters: { secret: SECRET, returnAs: 'json', ...parameters },
});
const removeDuplicates = {
	id: 'd1',
	name: 'Once per delivery',
	type: 'n8n-nodes-base.removeDuplicates',
	typeVersion: 2,
	parameters: { operation: 'removeItemsSeenInPreviousExecutions', dedupeValue: '={{ $json.deliveryKey }}', options: {} },
};

const file = (id) => ({ info: { type: 'email', id }, data: [[{ kind: 'message', id }], [{ kind: 'open' }]] });
async function post(url, body) {
	const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
	return { status: response.status, text: await response.text() };
}
function runsOf(execution, node) {
	return execution.data?.resultData?.runData?.[node] ?? [];
}
function itemsOf(execution, node) {
	const runs = runsOf(execution, node);
	return runs[runs.length - 1]?.data?.main?.[0] ?? [];
}
async function sha256OfStream(stream) {
	const hash = crypto.createHash('sha256');
	let bytes = 0;
	for await (const chunk of stream) {
		hash.update(chunk);
		bytes += chunk.length;
	}
	return { sha256: hash.digest('hex'), bytes };
}

describe.each(MAJORS.map((major) => [major]))('n8n %i.x in queue mode', (major) => {
	let cluster;
	let main;
	const triggers = {};
	const hook = (name) => `${cluster.webhookUrl}/webhook/${triggers[name].webhookId}/${TRIGGER_PATH}`;

	/** The bytes of a binary property, read back through the main process (database mode: from Postgres). */
	async function binarySha256(binary) {
		if (!binary.id) return sha256OfStream([Buffer.from(binary.data, 'base64')]);
		const answer = await httpRequest('GET', `${main.baseUrl}/rest/binary-data?id=${encodeURIComponent(binary.id)}&action=download`, {
			headers: { cookie: main.cookie },
			responseType: 'stream',
			timeoutMs: 300_000,
		});
		expect(answer.status).toBe(200);
		return sha256OfStream(answer.stream);
	}
	/** The file as the sandbox serves it. */
	async function sandboxSha256(id) {
		const answer = await httpRequest('GET', `${sandbox.url}/v3/datarequest/${id}/data?access_token=${TOKEN}`, { responseType: 'stream', timeoutMs: 300_000 });
		return sha256OfStream(answer.stream);
	}
	async function waitForStatus(executionId, statuses, timeoutMs = 120_000) {
		const deadline = Date.now() + timeoutMs;
		let execution;
		while (Date.now() < deadline) {
			execution = await main.execution(executionId);
			if (statuses.includes(execution.status)) return execution;
			await sleep(500);
		}
		throw new Error(`execution ${executionId} is ${execution?.status} after ${timeoutMs} ms`);
	}
	const newExecutions = async (name, before, n, timeoutMs = 120_000) =>
		(await main.waitForExecutions(triggers[name].id, before + n, timeoutMs)).slice(0, n);

	beforeAll(async () => {
		sandbox.reset();
		cluster = await startCluster({
			major,
			packageTarball: tarball,
			// API v4 (the credential's default), not v3 as the other sandbox suites: in queue mode the
			// JWT n8n stores with the credential is shared by every worker, which only this suite shows.
			credentials: [{ id: CREDENTIAL_ID, name: 'Copernica (sandbox)', type: 'copernicaApi', data: { accessToken: TOKEN, baseUrl: sandbox.url, authenticationUrl: `${sandbox.url}/authenticate` } }],
		});
		main = cluster.main;
		console.log(`n8n ${major}.x queue mode: started in ${(cluster.timings.totalMs / 1000).toFixed(1)} s ${JSON.stringify(cluster.timings)}`);
		for (const [name, nodes] of Object.entries({ plain: [], dedup: [removeDuplicates, noOp] })) {
			const webhookId = crypto.randomUUID();
			const { id } = (await main.api('POST', '/workflows', chain(`Trigger ${name}`, [trigger(webhookId), ...nodes]))).body;
			triggers[name] = { id, webhookId };
			await main.activate(id);
		}
		// The webhook processor finds the webhooks the main registered (in Postgres).
		for (const name of Object.keys(triggers)) await cluster.waitForWebhook(hook(name));
	});
	afterAll(async () => {
		await cluster?.stop();
	});
	const jwts = new Set(); // every JWT the sandbox issued, for the leak search
	beforeEach(() => {
		for (const jwt of sandbox._jwts.keys()) jwts.add(jwt);
		sandbox.reset();
		sandbox.clearFaults();
	});

	it('serves the trigger\'s production URL from the webhook processor, not from the main', async () => {
		const onMain = await post(`${main.baseUrl}/webhook/${triggers.plain.webhookId}/${TRIGGER_PATH}?secret=${SECRET}`, file('main@example.com'));
		expect(onMain.status).toBe(404);
		expect(cluster.workers).toHaveLength(2);
		expect(new Set([main.pid, ...cluster.n8nProcesses().map((p) => p.pid)]).size).toBe(4);
	});

	it.each([
		['JSON', 1, 'json'],
		['binary', 1, 'binary'],
		['binary', 100, 'binary'],
	])('Create and Get on a worker: Get as %s, %i MB', async (_what, megabytes, returnAs) => {
		const fileSize = megabytes * MB;
		sandbox.setOptions({ fileSize, readyAfterMs: 0 });
		const email = `get-${returnAs}-${fileSize}@example.com`;
		const workflow = chain(`Create and Get ${returnAs} ${fileSize}`, [
			manual,
			copernica('c1', 'Create', { operation: 'create', subjectType: 'email', subject: email }),
			copernica('g1', 'Get', { operation: 'get', requestId: '={{ $json.id }}', returnAs, options: {} }),
		]);
		const { id } = (await main.api('POST', '/workflows', workflow)).body;
		const started = Date.now();
		const run = await main.executeWorkflow(id, { timeoutMs: 600_000 });
		const seconds = (Date.now() - started) / 1000;
		expect({ status: run.status, error: run.error?.message }).toEqual({ status: 'success', error: undefined });
		expect(cluster.workersThatRan(run.id)).toHaveLength(1);

		const [created] = run.output('Create');
		const [item] = itemsOf(run.execution, 'Get');
		expect(item.json).toMatchObject({ id: created.id, status: 'available', info: { type: 'email', id: email } });
		const served = await sandboxSha256(created.id);
		expect(served.bytes).toBeGreaterThanOrEqual(fileSize);
		if (returnAs === 'json') {
			expect(item.json.data.length).toBe(item.json.summary.groups);
			expect(item.binary).toBeUndefined();
		} else {
			expect(item.json.data).toBeUndefined();
			expect(item.binary.data).toMatchObject({ fileName: `copernica-data-request-${created.id}.json`, mimeType: 'application/json' });
			// Stored in Postgres (binary data mode database), not inline in the execution.
			expect(item.binary.data.id).toMatch(/^database:/);
			expect(await binarySha256(item.binary.data)).toEqual(served);
			expect(item.json.summary.bytes).toBe(served.bytes);
		}
		console.log(`n8n ${major}.x queue: Create + Get (${returnAs}, ${served.bytes} bytes) on ${cluster.workersThatRan(run.id)} in ${seconds.toFixed(1)} s`);
	});

	it('the trigger receives the report through the webhook processor and runs on a worker', async () => {
		const before = (await main.executions(triggers.plain.id)).length;
		sandbox.setOptions({ readyAfterMs: 0 });
		const email = 'report-via-webhook-processor@example.com';
		const report = `${hook('plain')}?secret=${encodeURIComponent(SECRET)}&ticket=T-7`;
		const { id } = (await main.api('POST', '/workflows', chain('Create with report', [manual, copernica('c1', 'Create', { operation: 'create', subjectType: 'email', subject: email, report })]))).body;
		const run = await main.executeWorkflow(id);
		expect(run.status).toBe('success');
		const [delivery] = await sandbox.waitForDeliveries(1, 60_000);
		expect(delivery).toMatchObject({ ok: true, status: 200 });
		expect(delivery.url).toBe(report);
		expect(report.startsWith(`${cluster.webhookUrl}/webhook/`)).toBe(true);
		const [execution] = await newExecutions('plain', before, 1);
		const full = await main.execution(execution.id);
		expect(full.status).toBe('success');
		expect(itemsOf(full, 'Report')[0].json).toMatchObject({ info: { type: 'email', id: email }, query: { ticket: 'T-7' }, contentLength: delivery.bytes });
		expect(cluster.workersThatRan(execution.id)).toHaveLength(1);
	});

	it('refuses forged posts at the webhook processor, and starts nothing', async () => {
		const before = (await main.executions(triggers.plain.id)).length;
		const withSecret = (secret) => `${hook('plain')}?secret=${encodeURIComponent(secret)}`;
		const cases = [
			['no secret', hook('plain'), file('forged@example.com'), 401],
			['a wrong secret', withSecret('guess'), file('forged@example.com'), 401],
			['a wrong secret of the right length', withSecret(SECRET.replace(/.$/, 'x')), file('forged@example.com'), 401],
			['a body that is not a file', withSecret(SECRET), { hello: 'world' }, 400],
		];
		for (const [what, url, body, status] of cases) {
			const answer = await post(url, body);
			expect({ what, status: answer.status }).toEqual({ what, status });
			expect(answer.text).not.toContain(SECRET);
		}
		await sleep(3000);
		expect(await main.executions(triggers.plain.id)).toHaveLength(before);
	});

	it('1,000 creates through 30 % transient faults on a worker: 1,000 outputs, in order, no duplicates', async () => {
		const ITEMS = 1000;
		sandbox.setOptions({ transientFailureRate: 0.3, seed: 20240601 });
		const emailOf = (index) => `subject-${index}@example.com`;
		const workflow = chain('1,000 creates, 30 % faults', [
			manual,
			{
				id: 'i1',
				name: 'Items',
				type: 'n8n-nodes-base.code',
				typeVersion: 2,
				parameters: { jsCode: `return Array.from({ length: ${ITEMS} }, (_, i) => ({ json: { email: 'subject-' + i + '@example.com' } }));` },
			},
			copernica('c1', 'Create', { operation: 'create', subjectType: 'email', subject: '={{ $json.email }}' }, { onError: 'continueRegularOutput' }),
		]);
		const { id } = (await main.api('POST', '/workflows', workflow)).body;
		const started = Date.now();
		const run = await main.executeWorkflow(id, { timeoutMs: 600_000 });
		const seconds = (Date.now() - started) / 1000;
		expect({ status: run.status, error: run.error?.message }).toEqual({ status: 'success', error: undefined });
		const output = itemsOf(run.execution, 'Create');
		expect(output).toHaveLength(ITEMS);
		const perSubject = new Map();
		for (const record of sandbox.dataRequests.values()) perSubject.set(record.target, (perSubject.get(record.target) ?? 0) + 1);
		let succeeded = 0;
		output.forEach((item, index) => {
			expect(item.pairedItem).toEqual({ item: index });
			if (item.json.error === undefined) {
				succeeded++;
				expect(item.json.subject).toBe(emailOf(index));
				expect(sandbox.dataRequests.get(item.json.id)?.target).toBe(emailOf(index));
			}
		});
		const duplicates = [...perSubject.values()].reduce((sum, n) => sum + n - 1, 0);
		expect(duplicates).toBe(0);
		expect(sandbox.counts().create).toBeGreaterThan(ITEMS); // faults met, retried
		expect(succeeded).toBeGreaterThan(ITEMS * 0.8);
		console.log(`n8n ${major}.x queue: ${ITEMS} creates with 30 % faults on ${cluster.workersThatRan(run.id)} in ${seconds.toFixed(1)} s: ${succeeded} created, ${ITEMS - succeeded} error items, ${sandbox.counts().create} create calls`);
	});

	it('50 concurrent reports at the webhook processor: 50 executions, shared by both workers', async () => {
		const before = (await main.executions(triggers.plain.id)).length;
		const emails = Array.from({ length: 50 }, (_, i) => `concurrent-${i}@example.com`);
		const started = Date.now();
		const answers = await Promise.all(emails.map((email) => post(`${hook('plain')}?secret=${SECRET}`, file(email))));
		expect(answers.map((a) => a.status)).toEqual(emails.map(() => 200));
		const executions = await newExecutions('plain', before, 50, 180_000);
		const seconds = (Date.now() - started) / 1000;
		expect(executions.map((e) => e.status)).toEqual(emails.map(() => 'success'));
		const received = await Promise.all(executions.map(async (e) => itemsOf(await main.execution(e.id), 'Report')[0].json.info.id));
		expect(received.sort()).toEqual([...emails].sort());
		const byWorker = {};
		for (const e of executions) for (const w of cluster.workersThatRan(e.id)) byWorker[w] = (byWorker[w] ?? 0) + 1;
		expect(Object.values(byWorker).reduce((a, b) => a + b, 0)).toBe(50);
		expect(Object.keys(byWorker).sort()).toEqual(['worker-1', 'worker-2']);
		console.log(`n8n ${major}.x queue: 50 concurrent reports -> 50 executions in ${seconds.toFixed(1)} s, per worker ${JSON.stringify(byWorker)}`);
	});

	it('repeated deliveries with Remove Duplicates on deliveryKey: one after the other, and two at the same instant', async () => {
		const deliver = (ticket, email) => post(`${hook('dedup')}?secret=${SECRET}&ticket=${ticket}`, file(email));
		const wentOn = (execution) => itemsOf(execution, 'After').length > 0;
		const fetchNew = async (before, n) => await Promise.all((await newExecutions('dedup', before, n)).map((e) => main.execution(e.id)));

		// One after the other (the second may run on the other worker): the repeat stops.
		let before = (await main.executions(triggers.dedup.id)).length;
		expect((await deliver('S-1', 'sequential@example.com')).status).toBe(200);
		const [first] = await fetchNew(before, 1);
		expect((await deliver('S-1', 'sequential@example.com')).status).toBe(200);
		const [second] = await fetchNew(before + 1, 1);
		expect([wentOn(first), wentOn(second)]).toEqual([true, false]);
		expect(itemsOf(second, 'Report')[0].json.deliveryKey).toBe(itemsOf(first, 'Report')[0].json.deliveryKey);

		// Two identical deliveries at the same instant, several rounds (a new ticket each, so a new key).
		const ROUNDS = 6;
		const rounds = [];
		for (let round = 0; round < ROUNDS; round++) {
			before = (await main.executions(triggers.dedup.id)).length;
			const answers = await Promise.all([deliver(`R-${round}`, 'twice@example.com'), deliver(`R-${round}`, 'twice@example.com')]);
			expect(answers.map((a) => a.status)).toEqual([200, 200]);
			const pair = await fetchNew(before, 2);
			rounds.push({
				round,
				workers: pair.map((e) => cluster.workersThatRan(e.id).join('+')),
				wentOn: pair.filter(wentOn).length,
				failed: pair.filter((e) => e.status !== 'success').map((e) => e.data?.resultData?.error?.message?.slice(0, 120)),
			});
		}
		// Afterwards, each round's delivery once more, alone: suppressed if its key was kept.
		const later = [];
		for (let round = 0; round < ROUNDS; round++) {
			before = (await main.executions(triggers.dedup.id)).length;
			await deliver(`R-${round}`, 'twice@example.com');
			later.push(wentOn((await fetchNew(before, 1))[0]));
		}
		console.log(`n8n ${major}.x queue: two identical deliveries at the same instant, per round: ${JSON.stringify(rounds)}; ` +
			`the same delivery later, alone, went on again: ${JSON.stringify(later)}`);
		// No delivery is lost: in every round at least one of the two goes on.
		for (const r of rounds) expect(r.wentOn).toBeGreaterThanOrEqual(1);
	});

	it('Create and Wait: started on one worker, that worker killed while waiting, the report to the webhook processor, continued on the other worker with the file', async () => {
		sandbox.setOptions({ readyAfterMs: Infinity, fileSize: 300_000 });
		const email = 'wait-across-workers@example.com';
		const workflow = chain('Create and Wait across workers', [
			manual,
			copernica('c1', 'Create and Wait', { operation: 'createAndWait', subjectType: 'email', subject: email, returnAs: 'binary' }),
			noOp,
		]);
		const { id } = (await main.api('POST', '/workflows', workflow)).body;
		const run = await main.executeWorkflow(id, { done: (e) => e.status === 'waiting' || ['success', 'error', 'crashed'].includes(e.status) });
		expect({ status: run.status, error: run.error?.message }).toEqual({ status: 'waiting', error: undefined });
		const [pending] = run.output('Create and Wait');
		const report = sandbox.dataRequests.get(pending.id).report;
		// The resume URL n8n gave the node is the webhook processor's.
		expect(report.startsWith(`${cluster.webhookUrl}/webhook-waiting/${run.id}`)).toBe(true);

		const ranOn = cluster.workersThatRan(run.id);
		expect(ranOn).toHaveLength(1);
		const first = cluster.workers.find((w) => w.kind === ranOn[0]);
		const other = cluster.workers.find((w) => w !== first);
		await first.kill();
		expect((await main.execution(run.id)).status).toBe('waiting');

		sandbox.makeReady(pending.id);
		const resumed = await waitForStatus(run.id, ['success', 'error', 'crashed']);
		expect({ status: resumed.status, error: resumed.data?.resultData?.error?.message }).toEqual({ status: 'success', error: undefined });
		const delivery = sandbox.deliveries.find((d) => d.ok);
		expect(delivery).toMatchObject({ status: 200 });
		// Started on the killed worker, continued on the other one (the only one left).
		expect(cluster.workersThatRan(run.id).sort()).toEqual([first.kind, other.kind].sort());
		const [item] = itemsOf(resumed, 'Create and Wait');
		expect(item.json).toMatchObject({ id: pending.id, status: 'available', info: { type: 'email', id: email } });
		expect(item.binary.data.fileName).toBe(`copernica-data-request-${pending.id}.json`);
		const stored = await binarySha256(item.binary.data);
		expect(stored).toEqual(await sandboxSha256(pending.id));
		expect(itemsOf(resumed, 'After')).toHaveLength(1);
		expect(sandbox.counts()).toMatchObject({ create: 1, status: 0, bare: 0 });
	});

	it('the access token and every JWT are in no process\'s log and not in the database (pg_dump); the secret in no log and in no execution\'s data', async () => {
		const dump = await cluster.pgDump();
		// The run data of every execution (what the nodes output). Each execution also keeps a copy of
		// its workflow (execution_data."workflowData"), and the trigger's Secret is a node parameter there.
		const runData = await cluster.queryToFile('select "executionId", data from execution_data', path.join(cluster.base, 'run-data.txt'));
		const workflows = await cluster.queryToFile('select "executionId", "workflowData" from execution_data', path.join(cluster.base, 'workflow-data.txt'));
		for (const jwt of sandbox._jwts.keys()) jwts.add(jwt);
		expect(jwts.size).toBeGreaterThan(0);
		const secrets = [TOKEN, ...jwts];
		const found = { dump: await countInLargeFile(dump, secrets), runData: await countInLargeFile(runData, [...secrets, SECRET]) };
		for (const file of cluster.logFiles()) found[path.basename(file)] = await countInLargeFile(file, [...secrets, SECRET]);
		const zero = Object.fromEntries(Object.entries(found).map(([where, counts]) => [where, Object.fromEntries(Object.keys(counts).map((k) => [k, 0]))]));
		expect(found).toEqual(zero);
		// The searches ran over real data: the run data holds this suite's reports, the workflow copies the secret.
		expect((await countInLargeFile(runData, ['concurrent-49@example.com']))['concurrent-49@example.com']).toBeGreaterThan(0);
		const inWorkflowCopies = (await countInLargeFile(workflows, [SECRET]))[SECRET];
		expect(inWorkflowCopies).toBeGreaterThan(0);
		console.log(`n8n ${major}.x queue: token and ${jwts.size} JWTs 0 in pg_dump (${(fs.statSync(dump).size / MB).toFixed(0)} MB) and ${cluster.logFiles().length} logs; ` +
			`secret 0 in run data and logs, ${inWorkflowCopies} times in the executions' workflow copies`);
	});
});
