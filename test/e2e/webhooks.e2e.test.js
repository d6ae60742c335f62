// The package's two webhook paths in real n8n (1.x and 2.x), case by case: the trigger's
// webhook() (bodies as JSON, form and text, signed with a Digest, forged requests, binary output,
// repeated deliveries, URL parameters passed through) and Create and Wait's resume (the file
// posted to the resume URL, forged posts, a file that is ready at once). These cases ran against
// an emulation of n8n's webhook server in the engine harness before; here n8n itself receives them.
// The sandbox stands in for Copernica. Set E2E_PACKAGE_DIR to pack another build than dist/.
const crypto = require('crypto');
const path = require('path');

const { ensureN8n } = require('./install-n8n');
const { startN8n, packPackage, httpRequest } = require('./n8n');
const { startSandbox } = require('../sandbox');

const ROOT = path.resolve(__dirname, '..', '..');
const TOKEN = 'e2e-webhooks-token-2d9f4a7c1e3b';
const SECRET = 'e2e-webhooks-secret-8b3e5d1f7a9c';
const CREDENTIAL_ID = 'copernicaHookSbx';
const TRIGGER_PATH = 'copernica-data-request';

jest.setTimeout(15 * 60 * 1000);

let tarball;
let sandbox;
beforeAll(async () => {
	tarball = packPackage(process.env.E2E_PACKAGE_DIR || ROOT);
	sandbox = await startSandbox({ token: TOKEN });
});
afterAll(async () => {
	await sandbox?.close();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const credentials = { copernicaApi: { id: CREDENTIAL_ID, name: CREDENTIAL_ID } };
const manual = { id: 'm1', name: 'Manual', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} };

/** One trigger node alone, with its own webhook id (so its own production URL). */
const triggerWorkflow = (name, webhookId, parameters) => ({
	name,
	nodes: [
		{
			id: 't1',
			name: 'Report',
			type: 'n8n-nodes-copernica.copernicaDataRequestTrigger',
			typeVersion: 1,
			position: [0, 0],
			webhookId,
			parameters,
		},
	],
	connections: {},
	settings: { executionOrder: 'v1' },
});

/** The trigger, then n8n's Remove Duplicates on the trigger's deliveryKey, as example 2 has it. */
const dedupWorkflow = (name, webhookId, parameters) => {
	const workflow = triggerWorkflow(name, webhookId, parameters);
	workflow.nodes.push(
		{
			id: 'd1',
			name: 'Once per delivery',
			type: 'n8n-nodes-base.removeDuplicates',
			typeVersion: 2,
			position: [200, 0],
			parameters: { operation: 'removeItemsSeenInPreviousExecutions', dedupeValue: '={{ $json.deliveryKey }}', options: {} },
		},
		{ id: 'n1', name: 'After', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [400, 0], parameters: {} },
	);
	workflow.connections = {
		Report: { main: [[{ node: 'Once per delivery', type: 'main', index: 0 }]] },
		'Once per delivery': { main: [[{ node: 'After', type: 'main', index: 0 }]] },
	};
	return workflow;
};

/** Manual -> Copernica Data Request (create or createAndWait) -> After. */
const copernicaWorkflow = (name, parameters) => ({
	name,
	nodes: [
		manual,
		{
			id: 'c1',
			name: 'Copernica',
			type: 'n8n-nodes-copernica.copernicaDataRequest',
			typeVersion: 1,
			position: [200, 0],
			parameters,
			credentials,
		},
		{ id: 'n1', name: 'After', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [400, 0], parameters: {} },
	],
	connections: {
		Manual: { main: [[{ node: 'Copernica', type: 'main', index: 0 }]] },
		Copernica: { main: [[{ node: 'After', type: 'main', index: 0 }]] },
	},
	settings: { executionOrder: 'v1' },
});

/** A POST with exactly these bytes (n8n.request always sends JSON). */
async function post(url, body, headers = {}) {
	const response = await fetch(url, {
		method: 'POST',
		headers: { 'content-type': 'application/json', ...headers },
		body: typeof body === 'string' ? body : JSON.stringify(body),
	});
	return { status: response.status, text: await response.text() };
}

const file = (id, type = 'email') => ({ info: { type, id }, data: [[{ kind: 'message' }], [{ kind: 'open' }]] });
const digestOf = (text) => `SHA-256=${crypto.createHash('sha256').update(text).digest('base64')}`;

/** The first output item of a node's last run in a stored execution: json, binary, pairedItem. */
function itemOf(execution, nodeName) {
	const runs = execution.data.resultData.runData[nodeName] ?? [];
	return runs[runs.length - 1]?.data?.main?.[0]?.[0];
}

describe.each([[1], [2]])('n8n %i.x', (major) => {
	let n8n;
	const triggers = {};
	const hook = (name) => `${n8n.baseUrl}/webhook/${triggers[name].webhookId}/${TRIGGER_PATH}`;
	const executionsOf = async (name) => await n8n.executions(triggers[name].id);

	/** A binary property's bytes: inline (default mode) or from n8n's binary data store. */
	async function bytesOf(binary) {
		if (!binary.id) return Buffer.from(binary.data, 'base64');
		const answer = await n8n.rest('GET', `/binary-data?id=${encodeURIComponent(binary.id)}&action=download`);
		return Buffer.from(answer.text);
	}

	beforeAll(async () => {
		ensureN8n(major);
		n8n = await startN8n({
			major,
			packageTarball: tarball,
			credentials: [
				{ id: CREDENTIAL_ID, name: 'Copernica (sandbox)', type: 'copernicaApi', data: { apiVersion: 'v3', accessToken: TOKEN, baseUrl: sandbox.url } },
			],
		});
		// Copernica's signing key is looked up by DNS over HTTPS; here the sandbox answers for it.
		// binaryData: true as the editor stores it with any option (the node then reads the body from
		// the stream); "parsed" is stored without it, as a workflow made through the API can be, so
		// n8n parses the body first (README, "Limits").
		const lookup = { binaryData: true, signatureKeyLookupUrl: `${sandbox.url}/__sandbox/dns` };
		const configurations = {
			plain: { secret: SECRET, returnAs: 'json', options: lookup },
			parsed: { secret: SECRET, returnAs: 'json', options: { signatureKeyLookupUrl: lookup.signatureKeyLookupUrl } },
			small: { secret: SECRET, returnAs: 'json', options: { ...lookup, maxBodySizeMb: 1 } },
			binary: { secret: SECRET, returnAs: 'binary', binaryPropertyName: 'report', options: lookup },
			dedup: { secret: SECRET, returnAs: 'json', options: lookup },
			signed: { secret: SECRET, returnAs: 'json', options: { ...lookup, requireSignature: true } },
			pastedKey: { secret: SECRET, returnAs: 'json', options: { requireSignature: true, signatureKey: sandbox.signingKey.publicKeyPem } },
		};
		for (const [name, parameters] of Object.entries(configurations)) {
			const webhookId = crypto.randomUUID();
			const make = name === 'dedup' ? dedupWorkflow : triggerWorkflow;
			const { id } = (await n8n.api('POST', '/workflows', make(`Trigger ${name}`, webhookId, parameters))).body;
			triggers[name] = { id, webhookId };
			await n8n.activate(id);
		}
		for (const { webhookId } of Object.values(triggers)) await n8n.waitForWebhook(`webhook/${webhookId}/${TRIGGER_PATH}`);
	});
	afterAll(async () => {
		await n8n?.stop();
	});
	beforeEach(() => {
		sandbox.reset();
		sandbox.clearFaults();
	});

	describe('trigger', () => {
		it.each([
			['json', false, 'plain'],
			['form', false, 'plain'],
			['text', false, 'plain'],
			['json', true, 'plain'],
			['json', true, 'parsed'],
			['form', false, 'parsed'],
		])('round trip: Create with the trigger URL as report, the sandbox posts the file as %s (signed: %s) to the %s trigger', async (reportContentType, signReports, trigger) => {
			sandbox.setOptions({ reportContentType, signReports, readyAfterMs: 0 });
			const before = (await executionsOf(trigger)).length;
			const email = `o'brien+${reportContentType}${signReports ? '-signed' : ''}-${trigger}@example.com`;
			const report = `${hook(trigger)}?secret=${encodeURIComponent(SECRET)}&ticket=T-42`;
			const { id } = (await n8n.api('POST', '/workflows', copernicaWorkflow(`Create ${email}`, { operation: 'create', subjectType: 'email', subject: email, report }))).body;
			const run = await n8n.executeWorkflow(id);
			expect({ status: run.status, error: run.error }).toEqual({ status: 'success', error: undefined });
			// The output shows the report URL with the secret masked; Copernica got it whole.
			expect(run.output('Copernica')[0].report).toBe(report.replace(`secret=${encodeURIComponent(SECRET)}`, 'secret=***'));

			const [execution] = await n8n.waitForExecutions(triggers[trigger].id, before + 1, 60_000);
			expect(execution.status).toBe('success');
			const { json } = itemOf(execution, 'Report');
			expect(json.info).toEqual({ type: 'email', id: email });
			expect(Array.isArray(json.data)).toBe(true);
			expect(json.query).toEqual({ ticket: 'T-42' });
			await sandbox.waitForDeliveries(1);
			const [delivery] = sandbox.deliveries;
			expect(delivery).toMatchObject({ ok: true, status: 200, signed: signReports });
			expect(json.contentLength).toBe(delivery.bytes);
			expect(new Date(json.receivedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
		});

		it('refuses forged requests with the status that says why, and starts nothing', async () => {
			const before = { plain: (await executionsOf('plain')).length, small: (await executionsOf('small')).length };
			const text = JSON.stringify(file('forged@example.com'));
			const withSecret = (name, secret = SECRET) => `${hook(name)}?secret=${encodeURIComponent(secret)}`;
			const big = JSON.stringify({ ...file('big@example.com'), padding: 'x'.repeat(1_100_000) });
			const cases = [
				['no secret', hook('plain'), text, {}, 401],
				['a wrong secret', withSecret('plain', 'guess'), text, {}, 401],
				['a secret of the right length but wrong', withSecret('plain', SECRET.replace(/.$/, 'x')), text, {}, 401],
				['a body that is not a file', withSecret('plain'), '{"hello":"world"}', {}, 400],
				['invalid JSON', withSecret('plain'), '{"info":', {}, 400],
				// n8n's own body parser refuses this one before the trigger runs
				['invalid JSON, parsed by n8n', withSecret('parsed'), '{"info":', {}, 422],
				['an empty body', withSecret('plain'), '', {}, 400],
				['a Digest that does not match the body', withSecret('plain'), text, { digest: digestOf('other') }, 401],
				['a body over the trigger\'s size limit (1 MB)', withSecret('small'), big, {}, 413],
			];
			for (const [what, url, body, headers, status] of cases) {
				const answer = await post(url, body, headers);
				expect({ what, status: answer.status }).toEqual({ what, status });
				expect(answer.text).not.toContain(SECRET);
			}
			await sleep(2000);
			expect((await executionsOf('plain')).length).toBe(before.plain);
			expect((await executionsOf('small')).length).toBe(before.small);
		});

		it("with Require Copernica Signature: a genuine signed delivery starts the workflow, a forged, stale or foreign one does not", async () => {
			const before = { signed: (await executionsOf('signed')).length, pastedKey: (await executionsOf('pastedKey')).length };
			const deliver = async (name, signOptions) => {
				sandbox.reset();
				sandbox.setOptions({ readyAfterMs: 0, signReports: true, ...signOptions });
				const report = `${hook(name)}?secret=${encodeURIComponent(SECRET)}`;
				await httpRequest('POST', `${sandbox.url}/v3/email/signed%40example.com/datarequest?access_token=${TOKEN}`, { json: { report } });
				const [delivery] = await sandbox.waitForDeliveries(1);
				return delivery;
			};
			expect(await deliver('signed', {})).toMatchObject({ ok: true, status: 200, signed: true });
			expect(await deliver('pastedKey', {})).toMatchObject({ ok: true, status: 200, signed: true });
			const refused = [
				['unsigned', { signReports: false }],
				['a forged signature', { signTamper: true }],
				['a Date two minutes old', { signDateOffsetMs: -120_000 }],
				['a key outside copernica.com', { signKeyId: 'sandbox._domainkey.copernica.com.example.net' }],
			];
			for (const [what, signOptions] of refused) {
				const delivery = await deliver('signed', { reportRetries: 0, ...signOptions });
				expect({ what, status: delivery.status }).toEqual({ what, status: 401 });
			}
			sandbox.setOptions({ signReports: false, signTamper: false, signDateOffsetMs: 0, signKeyId: undefined });
			await n8n.waitForExecutions(triggers.signed.id, before.signed + 1);
			await n8n.waitForExecutions(triggers.pastedKey.id, before.pastedKey + 1);
			await sleep(2000);
			expect((await executionsOf('signed')).length).toBe(before.signed + 1);
		});

		it('refuses a wrong signature even where none is required', async () => {
			const before = (await executionsOf('plain')).length;
			sandbox.reset();
			sandbox.setOptions({ readyAfterMs: 0, signReports: true, signTamper: true, reportRetries: 0 });
			const report = `${hook('plain')}?secret=${encodeURIComponent(SECRET)}`;
			await httpRequest('POST', `${sandbox.url}/v3/email/tampered%40example.com/datarequest?access_token=${TOKEN}`, { json: { report } });
			const [delivery] = await sandbox.waitForDeliveries(1);
			expect(delivery).toMatchObject({ ok: false, status: 401 });
			sandbox.setOptions({ signReports: false, signTamper: false });
			await sleep(1500);
			expect((await executionsOf('plain')).length).toBe(before);
		});

		it('accepts a matching Digest', async () => {
			const before = (await executionsOf('plain')).length;
			const text = JSON.stringify(file('digest@example.com'));
			const signed = await post(`${hook('plain')}?secret=${SECRET}`, text, { digest: digestOf(text) });
			expect({ status: signed.status, body: signed.text }).toEqual({ status: 200, body: '{"received":true}' });
			const [plain] = await n8n.waitForExecutions(triggers.plain.id, before + 1);
			expect(itemOf(plain, 'Report').json.info.id).toBe('digest@example.com');
		});

		it.each([
			// n8n 2.x refuses an empty required parameter itself, before asking the node
			['no secret', '', /has no secret|required parameters: secret/],
			['a short secret', 'q7Vh2mZp9LxR4tWb', /too short/],
			['the old example placeholder', 'change-me-to-a-long-random-value', /placeholder/],
		])('a trigger with %s is not activated, and its URL starts nothing', async (_what, secret, reason) => {
			const webhookId = crypto.randomUUID();
			const { id } = (await n8n.api('POST', '/workflows', triggerWorkflow(`Unsafe ${secret.length}`, webhookId, { secret, returnAs: 'json', options: {} }))).body;
			const answer = await n8n.api('POST', `/workflows/${id}/activate`, undefined, { allowError: true });
			if (major === 1 || secret === '') {
				// Refused at once, with the node's reason (2.x checks an empty required parameter itself)
				expect(answer.status).toBeGreaterThanOrEqual(400);
				expect(answer.text).toMatch(reason);
			} else {
				// 2.41 accepts the publish, then keeps retrying to register the webhook, which the node
				// refuses: the workflow never goes live (its error is not surfaced through the API).
				await sleep(2000);
				const status = (await n8n.rest('GET', `/workflows/${id}/publication-status`)).body.data;
				expect(status).toMatchObject({ liveVersionId: null });
				expect(status.status).not.toBe('published');
			}
			const posted = await post(`${n8n.baseUrl}/webhook/${webhookId}/${TRIGGER_PATH}?secret=${encodeURIComponent(secret)}`, file('open@example.com'));
			expect(posted.status).toBe(404);
			expect(await n8n.executions(id)).toHaveLength(0);
		});

		it('returns the file as a binary file in the chosen field, with a summary', async () => {
			const before = (await executionsOf('binary')).length;
			const text = JSON.stringify(file('binary@example.com'));
			expect((await post(`${hook('binary')}?secret=${SECRET}`, text)).status).toBe(200);
			const [execution] = await n8n.waitForExecutions(triggers.binary.id, before + 1);
			const item = itemOf(execution, 'Report');
			expect(item.json).toMatchObject({
				info: { type: 'email', id: 'binary@example.com' },
				summary: { bytes: text.length, groups: 2, entries: 2, entriesPerGroup: [1, 1] },
				contentLength: text.length,
			});
			expect(item.json.data).toBeUndefined();
			// The trigger does not know the request's ID: the file is named after its arrival.
			expect(item.binary.report).toMatchObject({ fileName: expect.stringMatching(/^copernica-data-request-\d{4}-\d{2}-\d{2}T\d{6}Z\.json$/), mimeType: 'application/json' });
			expect((await bytesOf(item.binary.report)).toString('utf8')).toBe(text);
		});

		it('with Remove Duplicates on deliveryKey: the same delivery twice goes on once, two tickets for the same file both go on', async () => {
			const before = (await executionsOf('dedup')).length;
			const text = JSON.stringify(file('twice@example.com'));
			const deliver = async (ticket) => await post(`${hook('dedup')}?secret=${SECRET}&ticket=${ticket}`, text);
			const wentOn = (execution) => Boolean(itemOf(execution, 'After'));

			expect((await deliver('T-1')).status).toBe(200);
			await n8n.waitForExecutions(triggers.dedup.id, before + 1);
			expect((await deliver('T-1')).status).toBe(200);
			await n8n.waitForExecutions(triggers.dedup.id, before + 2);
			expect((await deliver('T-2')).status).toBe(200);
			const executions = await n8n.waitForExecutions(triggers.dedup.id, before + 3);
			// Newest first: T-2, the repeated T-1, the first T-1.
			const runs = await Promise.all(executions.slice(0, 3).map((e) => n8n.execution(e.id)));
			const keys = runs.map((run) => itemOf(run, 'Report').json.deliveryKey);
			expect(keys[1]).toBe(keys[2]);
			expect(keys[0]).not.toBe(keys[1]);
			expect(runs.map(wentOn)).toEqual([true, false, true]);
		});
	});

	describe('Create and Wait', () => {
		const waitingOrDone = (e) => e.status === 'waiting' || e.finished === true || ['success', 'error', 'crashed', 'canceled'].includes(e.status);

		/** Runs Create and Wait until its execution waits; returns the run, the pending item and the report URL. */
		async function startWaiting(email, extra = {}) {
			const parameters = { operation: 'createAndWait', subjectType: 'email', subject: email, returnAs: 'json', options: {}, ...extra };
			const { id } = (await n8n.api('POST', '/workflows', copernicaWorkflow(`Create and Wait ${email}`, parameters))).body;
			const run = await n8n.executeWorkflow(id, { done: waitingOrDone });
			const [pending] = run.output('Copernica');
			return { run, pending, report: sandbox.dataRequests.get(pending?.id)?.report };
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

		it('continues with the file Copernica posts to the resume URL, the request\'s fields kept', async () => {
			sandbox.setOptions({ readyAfterMs: Infinity });
			const email = "o'brien+wait@example.com";
			const { run, pending } = await startWaiting(email);
			expect(run.status).toBe('waiting');
			sandbox.makeReady(pending.id);
			const resumed = await finished(run.id);
			expect(resumed.status).toBe('success');
			const item = itemOf(resumed, 'Copernica');
			expect(item.pairedItem).toEqual({ item: 0 });
			expect(item.json).toMatchObject({
				id: pending.id,
				status: 'available',
				subjectType: 'email',
				subject: email,
				requestedAt: pending.requestedAt,
				dueBy: pending.dueBy,
				info: { type: 'email', id: email },
			});
			expect(item.json.waitingUntil).toBeUndefined();
			expect(item.json.summary).toMatchObject({ groups: item.json.data.length });
			await sandbox.waitForDeliveries(1);
			expect(sandbox.deliveries).toMatchObject([{ ok: true, status: 200 }]);
			expect(item.json.contentLength).toBe(sandbox.deliveries[0].bytes);
			expect(new Date(item.json.receivedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
			expect(resumed.data.resultData.runData.Copernica).toHaveLength(1);
			expect(itemOf(resumed, 'After').json).toEqual(item.json);
			// Nothing was polled: the create was the only call.
			expect(sandbox.counts()).toMatchObject({ create: 1, status: 0, data: 0, bare: 0 });
		});

		it('T = 0 s: a file that is ready at once still continues the execution', async () => {
			// Copernica may post before n8n has stored the execution as waiting. n8n then refuses the
			// post (seen: 500 on 1.123 and 2.41; on 2.41 a TypeError in n8n's WaitingWebhooks,
			// "reading 'resumeToken'"), and the delivery succeeds only if Copernica tries again (the
			// sandbox does; Copernica's retries are not documented). The attempts are logged.
			sandbox.setOptions({ readyAfterMs: 0, reportRetries: 5, reportRetryDelayMs: 300 });
			const { run } = await startWaiting('instant@example.com');
			const resumed = await finished(run.id);
			expect(itemOf(resumed, 'Copernica').json).toMatchObject({ status: 'available', info: { id: 'instant@example.com' } });
			await sandbox.waitForDeliveries(1);
			const statuses = sandbox.deliveries.map((d) => d.status);
			expect(sandbox.deliveries[sandbox.deliveries.length - 1]).toMatchObject({ ok: true, status: 200 });
			console.log(`n8n ${major}.x, Create and Wait, T = 0 s: delivery attempts ${JSON.stringify(statuses)}`);
		});

		it('returns the file as a binary file named after the request, with a summary', async () => {
			sandbox.setOptions({ readyAfterMs: Infinity, fileSize: 200_000 });
			const { run, pending } = await startWaiting('binary-wait@example.com', { returnAs: 'binary', binaryPropertyName: 'file' });
			sandbox.makeReady(pending.id);
			const item = itemOf(await finished(run.id), 'Copernica');
			expect(item.json.data).toBeUndefined();
			expect(item.binary.file).toMatchObject({ fileName: `copernica-data-request-${pending.id}.json`, mimeType: 'application/json' });
			const bytes = await bytesOf(item.binary.file);
			expect(bytes.length).toBeGreaterThan(200_000);
			expect(JSON.parse(bytes.toString('utf8')).info.id).toBe('binary-wait@example.com');
			expect(item.json.summary).toMatchObject({ bytes: bytes.length });
		});

		it('refuses what is not this request\'s file and keeps waiting; a post after the end finds it finished', async () => {
			sandbox.setOptions({ readyAfterMs: Infinity });
			const { run, pending, report } = await startWaiting('victim@example.com');
			const refusals = [
				['a wrong check value', report.replace(/copernica_check=[^&]*/, `copernica_check=${'A'.repeat(43)}`), file('victim@example.com'), 401],
				['another subject type', report, file('victim@example.com', 'profile'), 400],
				['another person', report, file('other@example.com'), 400],
				['an empty body', report, '', 400],
			];
			for (const [what, url, body, status] of refusals) {
				const answer = await post(url, body);
				expect({ what, status: answer.status }).toEqual({ what, status });
				expect(answer.text).not.toContain('other@example.com');
			}
			expect((await n8n.execution(run.id)).status).toBe('waiting');

			sandbox.makeReady(pending.id);
			const resumed = await finished(run.id);
			expect(itemOf(resumed, 'Copernica').json).toMatchObject({ status: 'available', info: { id: 'victim@example.com' } });
			const late = await post(report, file('victim@example.com'));
			expect(late.status).toBe(409);
		});
	});
});
