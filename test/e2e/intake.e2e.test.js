// The webhook intake's limits in real n8n (1.x and 2.x): the nodes read the body from the request
// stream themselves (they declare options.binaryData, so n8n leaves it unread), so
// - a body over the node's limit is refused (413) while it is still being sent, and starts nothing;
// - a 40 MB file, over n8n's default N8N_PAYLOAD_SIZE_MAX (16 MB, not raised here), arrives whole
//   as a binary file, on the trigger and on Create and Wait's resume URL;
// - a workflow stored without the value (made through the API with options: {...}) gets the body
//   parsed by n8n, and n8n's own limit applies: the README's exact limit;
// and the signed-delivery checks that need only the headers: a replayed X-Nonce and another
// account's X-Copernica-ID are refused (401) and start nothing; a genuine one starts one execution.
// Set E2E_PACKAGE_DIR to pack another build than dist/.
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');

const { ensureN8n } = require('./install-n8n');
const { startN8n, packPackage, httpRequest } = require('./n8n');
const { startSandbox } = require('../sandbox');

const ROOT = path.resolve(__dirname, '..', '..');
const TOKEN = 'e2e-intake-token-5c2e8a1f3b7d';
const SECRET = 'e2e-intake-secret-9d4f2a6c8e1b';
const CREDENTIAL_ID = 'copernicaIntakeSbx';
const TRIGGER_PATH = 'copernica-data-request';
const MB = 1024 * 1024;
const ACCOUNT_ID = '4321'; // the sandbox account's id

jest.setTimeout(20 * 60 * 1000);

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
const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

const triggerWorkflow = (name, webhookId, parameters) => ({
	name,
	nodes: [
		{ id: 't1', name: 'Report', type: 'n8n-nodes-copernica.copernicaDataRequestTrigger', typeVersion: 1, position: [0, 0], webhookId, parameters },
	],
	connections: {},
	settings: { executionOrder: 'v1' },
});

/** A data request file of about `size` bytes, ASCII (so n8n's download answers the same bytes). */
function bigFile(id, size) {
	const message = 'x'.repeat(64 * 1024);
	const messages = Math.ceil(size / message.length);
	return Buffer.from(JSON.stringify({ info: { type: 'email', id }, data: [Array.from({ length: messages }, (_, i) => ({ n: i, mime: message }))] }));
}

/**
 * POSTs `total` bytes in chunks of `chunkSize`, `delayMs` apart, stopping once an answer comes.
 * Resolves the status and how much had been sent when the answer came.
 */
function postSlowly(url, { total, chunkSize, delayMs, headers = {}, stopAfter = Infinity }) {
	return new Promise((resolve, reject) => {
		const u = new URL(url);
		let sent = 0;
		let answered = false;
		const req = http.request({
			method: 'POST',
			hostname: u.hostname,
			port: u.port,
			path: u.pathname + u.search,
			headers: Object.fromEntries(Object.entries({ 'content-type': 'application/json', 'content-length': total, ...headers }).filter(([, v]) => v !== undefined)),
		});
		req.on('response', (res) => {
			answered = true;
			const sentWhenAnswered = sent;
			let text = '';
			res.on('data', (c) => (text += c));
			res.on('end', () => {
				req.destroy();
				resolve({ status: res.statusCode, text, sentWhenAnswered, total });
			});
		});
		req.on('error', (error) => {
			if (!answered) reject(error);
		});
		(async () => {
			req.write('{"info":{"type":"email","id":"slow@example.com"},"data":[["');
			sent = 0;
			while (sent < total && sent < stopAfter && !answered) {
				const size = Math.min(chunkSize, total - sent);
				await new Promise((done) => req.write(Buffer.alloc(size, 'a'), done));
				sent += size;
				await sleep(delayMs);
			}
			// stopAfter: the rest never comes; only an answer that needs none of it can end this.
			if (!answered && sent >= total) req.end();
		})().catch(() => undefined);
	});
}

/** POSTs these bytes in one go (streamed from memory, not through fetch's buffering). */
function postBytes(url, bytes, headers = {}) {
	return new Promise((resolve, reject) => {
		const u = new URL(url);
		const req = http.request(
			{ method: 'POST', hostname: u.hostname, port: u.port, path: u.pathname + u.search, headers: { 'content-type': 'application/json', 'content-length': bytes.length, ...headers } },
			(res) => {
				let text = '';
				res.on('data', (c) => (text += c));
				res.on('end', () => resolve({ status: res.statusCode, text }));
			},
		);
		req.on('error', reject);
		req.end(bytes);
	});
}

function itemOf(execution, nodeName) {
	const runs = execution.data.resultData.runData[nodeName] ?? [];
	return runs[runs.length - 1]?.data?.main?.[0]?.[0];
}

describe.each([[1], [2]])('n8n %i.x', (major) => {
	let n8n;
	const triggers = {};
	const hook = (name) => `${n8n.baseUrl}/webhook/${triggers[name].webhookId}/${TRIGGER_PATH}?secret=${encodeURIComponent(SECRET)}`;
	const executionsOf = async (name) => await n8n.executions(triggers[name].id);

	/** A binary file's bytes, downloaded from n8n (UTF-8 text: the files here are valid UTF-8). */
	async function bytesOf(binary) {
		const answer = await n8n.rest('GET', `/binary-data?id=${encodeURIComponent(binary.id)}&action=download`);
		return Buffer.from(answer.text);
	}

	beforeAll(async () => {
		ensureN8n(major);
		n8n = await startN8n({
			major,
			packageTarball: tarball,
			// N8N_PAYLOAD_SIZE_MAX is left at n8n's default (16 MB) on purpose.
			binaryDataMode: 'filesystem',
			credentials: [{ id: CREDENTIAL_ID, name: 'Copernica (sandbox)', type: 'copernicaApi', data: { apiVersion: 'v3', accessToken: TOKEN, baseUrl: sandbox.url } }],
		});
		expect(n8n.env.N8N_PAYLOAD_SIZE_MAX).toBeUndefined();
		const lookup = `${sandbox.url}/__sandbox/dns`;
		const configurations = {
			// No options stored: the collection's default (binaryData true) applies.
			unstored: { secret: SECRET, returnAs: 'binary', binaryPropertyName: 'report' },
			// Options as the editor stores them once one is set: binaryData comes along.
			limited: { secret: SECRET, returnAs: 'json', options: { binaryData: true, maxBodySizeMb: 2 } },
			account: { secret: SECRET, returnAs: 'json', options: { binaryData: true, signatureKeyLookupUrl: lookup, requireSignature: true, copernicaAccountId: ACCOUNT_ID } },
			// Stored without binaryData (a workflow made through the API): n8n parses the body first.
			parsedByN8n: { secret: SECRET, returnAs: 'binary', options: { maxBodySizeMb: 100 } },
		};
		for (const [name, parameters] of Object.entries(configurations)) {
			const webhookId = crypto.randomUUID();
			const { id } = (await n8n.api('POST', '/workflows', triggerWorkflow(`Intake ${name}`, webhookId, parameters))).body;
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
	});

	it('a body over the limit, sent at 1 MB/s, is refused (413) before the sender has finished, and starts nothing', async () => {
		const before = (await executionsOf('limited')).length;
		// No Content-Length to go by: the limit is found while counting.
		const answer = await postSlowly(hook('limited'), { total: 12 * MB, chunkSize: MB, delayMs: 1000, headers: { 'content-length': undefined, 'transfer-encoding': 'chunked' } });
		expect(answer.status).toBe(413);
		expect(answer.text).toMatch(/larger than 2 MB/);
		expect(answer.sentWhenAnswered).toBeLessThan(answer.total);
		console.log(`n8n ${major}.x: 413 after ${answer.sentWhenAnswered / MB} MB of ${answer.total / MB} MB`);
		// An announced length over the limit is refused before the body is read: the sender stops
		// after 64 kB (far under the 2 MB limit) and waits, so only that refusal can answer it.
		const announced = await postSlowly(hook('limited'), { total: 12 * MB, chunkSize: 64 * 1024, delayMs: 0, stopAfter: 64 * 1024 });
		expect(announced.status).toBe(413);
		expect(announced.sentWhenAnswered).toBe(64 * 1024);
		await sleep(1500);
		expect((await executionsOf('limited')).length).toBe(before);
	});

	it('a 40 MB file (over N8N_PAYLOAD_SIZE_MAX) arrives as a binary file, byte for byte, in one execution', async () => {
		const before = (await executionsOf('unstored')).length;
		const bytes = bigFile('forty@example.com', 40 * MB);
		expect(bytes.length).toBeGreaterThan(40 * MB);
		const answer = await postBytes(hook('unstored'), bytes, { digest: `SHA-256=${crypto.createHash('sha256').update(bytes).digest('base64')}` });
		expect(answer).toEqual({ status: 200, text: '{"received":true}' });
		const executions = await n8n.waitForExecutions(triggers.unstored.id, before + 1, 120_000);
		const execution = await n8n.execution(executions[0].id);
		expect(execution.status).toBe('success');
		const item = itemOf(execution, 'Report');
		expect(item.json).toMatchObject({ info: { type: 'email', id: 'forty@example.com' }, contentLength: bytes.length, summary: { bytes: bytes.length, groups: 1 } });
		expect(item.json.data).toBeUndefined();
		expect(sha256(await bytesOf(item.binary.report))).toBe(sha256(bytes));
		await sleep(1000);
		expect((await executionsOf('unstored')).length).toBe(before + 1);
	});

	it('a file whose Digest does not match, after streaming, starts nothing', async () => {
		const before = (await executionsOf('unstored')).length;
		const bytes = bigFile('mismatch@example.com', 20 * MB);
		const answer = await postBytes(hook('unstored'), bytes, { digest: `SHA-256=${crypto.createHash('sha256').update('other').digest('base64')}` });
		expect(answer.status).toBe(401);
		expect(answer.text).toMatch(/Digest/);
		await sleep(1500);
		expect((await executionsOf('unstored')).length).toBe(before);
	});

	it('stored without binaryData, n8n parses the body first: its own 16 MB limit applies', async () => {
		const before = (await executionsOf('parsedByN8n')).length;
		const small = await postBytes(hook('parsedByN8n'), bigFile('small@example.com', MB));
		expect(small.status).toBe(200);
		const large = await postBytes(hook('parsedByN8n'), bigFile('large@example.com', 20 * MB));
		// n8n's raw-body reader refuses it (PayloadTooLargeError) before the node runs; n8n answers
		// with its generic error (1.123: 500 "There was a problem executing the workflow").
		console.log(`n8n ${major}.x, parsed by n8n: a 20 MB body answers ${large.status} ${large.text.slice(0, 300)}`);
		expect(large.status).toBeGreaterThanOrEqual(400);
		expect(large.text).not.toContain('large@example.com');
		await n8n.waitForExecutions(triggers.parsedByN8n.id, before + 1);
		await sleep(1500);
		expect((await executionsOf('parsedByN8n')).length).toBe(before + 1);
	});

	describe('signed deliveries', () => {
		async function deliver(signOptions) {
			sandbox.reset();
			sandbox.setOptions({ readyAfterMs: 0, signReports: true, reportRetries: 0, ...signOptions });
			await httpRequest('POST', `${sandbox.url}/v3/email/signed%40example.com/datarequest?access_token=${TOKEN}`, { json: { report: hook('account') } });
			const [delivery] = await sandbox.waitForDeliveries(1);
			return delivery;
		}

		it('a genuine one starts one execution; the same X-Nonce again is refused (401); another account id is refused (401)', async () => {
			const before = (await executionsOf('account')).length;
			const nonce = crypto.randomBytes(16).toString('hex');
			expect(await deliver({ signNonce: nonce })).toMatchObject({ ok: true, status: 200, signed: true });
			// A new request and signature, but the nonce of the first: what a replay looks like.
			expect(await deliver({ signNonce: nonce })).toMatchObject({ ok: false, status: 401 });
			expect(await deliver({ signAccountId: '999' })).toMatchObject({ ok: false, status: 401 });
			// Another genuine delivery (fresh nonce, the right account) goes through.
			expect(await deliver({})).toMatchObject({ ok: true, status: 200, signed: true });
			const executions = await n8n.waitForExecutions(triggers.account.id, before + 2);
			await sleep(1500);
			expect((await executionsOf('account')).length).toBe(before + 2);
			const item = itemOf(await n8n.execution(executions[0].id), 'Report');
			expect(item.json.info).toEqual({ type: 'email', id: 'signed@example.com' });
		});
	});

	describe('Create and Wait', () => {
		const waitingOrDone = (e) => e.status === 'waiting' || e.finished === true || ['success', 'error', 'crashed', 'canceled'].includes(e.status);

		it('a 40 MB file posted to the resume URL continues the execution with the file, byte for byte', async () => {
			sandbox.setOptions({ readyAfterMs: Infinity, fileSize: 40 * MB });
			const email = 'wait-forty@example.com';
			const workflow = {
				name: 'Create and Wait 40 MB',
				nodes: [
					{ id: 'm1', name: 'Manual', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
					{
						id: 'c1',
						name: 'Copernica',
						type: 'n8n-nodes-copernica.copernicaDataRequest',
						typeVersion: 1,
						position: [200, 0],
						// No options stored: the default (binaryData true) applies to the resume POST.
						parameters: { operation: 'createAndWait', subjectType: 'email', subject: email, returnAs: 'binary', binaryPropertyName: 'file' },
						credentials: { copernicaApi: { id: CREDENTIAL_ID, name: CREDENTIAL_ID } },
					},
				],
				connections: { Manual: { main: [[{ node: 'Copernica', type: 'main', index: 0 }]] } },
				settings: { executionOrder: 'v1' },
			};
			const { id } = (await n8n.api('POST', '/workflows', workflow)).body;
			const run = await n8n.executeWorkflow(id, { done: waitingOrDone });
			expect(run.status).toBe('waiting');
			const [pending] = run.output('Copernica');
			sandbox.makeReady(pending.id);
			const file = Buffer.from(await (await fetch(`${sandbox.url}/v3/datarequest/${pending.id}/data?access_token=${TOKEN}`)).arrayBuffer());
			expect(file.length).toBeGreaterThan(40 * MB);
			const [delivery] = await sandbox.waitForDeliveries(1, 120_000);
			expect(delivery).toMatchObject({ ok: true, status: 200 });
			let execution;
			for (let i = 0; i < 200; i++) {
				execution = await n8n.execution(run.id);
				if (['success', 'error', 'crashed'].includes(execution.status)) break;
				await sleep(300);
			}
			expect(execution.status).toBe('success');
			const item = itemOf(execution, 'Copernica');
			expect(item.json).toMatchObject({ id: pending.id, status: 'available', info: { type: 'email', id: email }, contentLength: file.length });
			expect(sha256(await bytesOf(item.binary.file))).toBe(sha256(file));
		});
	});
});
