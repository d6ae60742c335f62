#!/usr/bin/env node
'use strict';
/*
 * Smoke test of the e2e infrastructure (plain Node script, not jest):
 *
 *   node test/e2e/smoke.e2e.js [1|2|all]     (default all)
 *
 * For each n8n major: install (cached), start n8n with the probe community package
 * (test/e2e/fixtures/n8n-nodes-e2e-probe, packed with npm pack) and, if /work/main/dist exists,
 * the real package too; then
 *  - a Manual Trigger -> Code -> Set (expression) -> E2E Probe workflow, run manually on the server;
 *  - the same workflow run through `n8n execute --id --rawOutput` while the server is stopped;
 *  - a Webhook workflow and a probe-trigger workflow activated before start, called on their
 *    production URLs, executions read back through the public API;
 *  - a credential test through /rest/credentials/test against a local HTTP server;
 *  - a restart with the same user folder.
 * Prints timings and memory. Exits non-zero on the first failure, after stopping n8n.
 */
const assert = require('assert');
const fs = require('fs');
const http = require('http'); // only for the ping server below: a server, not a client
const path = require('path');
const { ensureN8n } = require('./install-n8n');
const { startN8n, packPackage, freePort, n8nId, httpRequest } = require('./n8n');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const PROBE_DIR = path.join(__dirname, 'fixtures', 'n8n-nodes-e2e-probe');

const t = () => Date.now();
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const mb = (b) => `${Math.round(b / 1024 / 1024)} MB`;
function step(msg) {
	console.log(`[smoke] ${msg}`);
}

/* ---------------------------------------------------------------- fixtures */

function manualWorkflow(id, credentialId) {
	return {
		id,
		name: 'E2E smoke manual',
		nodes: [
			{
				id: 'a1',
				name: 'Manual Trigger',
				type: 'n8n-nodes-base.manualTrigger',
				typeVersion: 1,
				position: [0, 0],
				parameters: {},
			},
			{
				id: 'a2',
				name: 'Code',
				type: 'n8n-nodes-base.code',
				typeVersion: 2,
				position: [200, 0],
				// Runs in the task runner (a separate process): proves the runner works too.
				parameters: { jsCode: 'return [{ json: { a: 41 } }, { json: { a: 1 } }];' },
			},
			{
				id: 'a3',
				name: 'Set',
				type: 'n8n-nodes-base.set',
				typeVersion: 3.4,
				position: [400, 0],
				parameters: {
					mode: 'manual',
					assignments: {
						assignments: [{ id: 'b', name: 'b', value: '={{ $json.a + 1 }}', type: 'number' }],
					},
					includeOtherFields: true,
					options: {},
				},
			},
			{
				id: 'a4',
				name: 'Probe',
				type: 'n8n-nodes-e2e-probe.e2eProbe',
				typeVersion: 1,
				position: [600, 0],
				parameters: { greeting: "={{ 'hi ' + $json.b }}" },
				...(credentialId
					? { credentials: { e2eProbeApi: { id: credentialId, name: 'Probe credential' } } }
					: {}),
			},
		],
		connections: {
			'Manual Trigger': { main: [[{ node: 'Code', type: 'main', index: 0 }]] },
			Code: { main: [[{ node: 'Set', type: 'main', index: 0 }]] },
			Set: { main: [[{ node: 'Probe', type: 'main', index: 0 }]] },
		},
	};
}

function webhookWorkflow(id, path_) {
	return {
		id,
		name: 'E2E smoke webhook',
		nodes: [
			{
				id: 'w1',
				name: 'Webhook',
				type: 'n8n-nodes-base.webhook',
				typeVersion: 2,
				position: [0, 0],
				webhookId: '7d0b8c1e-6a8f-4a53-9a2e-3c4d5e6f7a8b',
				parameters: { httpMethod: 'POST', path: path_, responseMode: 'onReceived', options: {} },
			},
			{
				id: 'w2',
				name: 'Set',
				type: 'n8n-nodes-base.set',
				typeVersion: 3.4,
				position: [200, 0],
				parameters: {
					mode: 'manual',
					assignments: {
						assignments: [{ id: 'd', name: 'doubled', value: '={{ $json.body.x * 2 }}', type: 'number' }],
					},
					includeOtherFields: false,
					options: {},
				},
			},
		],
		connections: { Webhook: { main: [[{ node: 'Set', type: 'main', index: 0 }]] } },
	};
}

function probeTriggerWorkflow(id, webhookId) {
	return {
		id,
		name: 'E2E smoke probe trigger',
		nodes: [
			{
				id: 't1',
				name: 'Probe Trigger',
				type: 'n8n-nodes-e2e-probe.e2eProbeTrigger',
				typeVersion: 1,
				position: [0, 0],
				webhookId,
				parameters: {},
			},
		],
		connections: {},
	};
}

/** A tiny HTTP server for the probe credential's test request (GET /ping with the Bearer key). */
async function startPingServer() {
	const port = await freePort();
	const seen = [];
	const server = http.createServer((req, res) => {
		seen.push({ url: req.url, auth: req.headers.authorization });
		const ok = req.url === '/ping' && req.headers.authorization === 'Bearer good-key';
		res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
		res.end(JSON.stringify({ ok }));
	});
	await new Promise((r) => server.listen(port, '127.0.0.1', r));
	return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(r)) };
}

/* ---------------------------------------------------------------- the test */

async function smoke(major, tarballs) {
	const report = { major };
	let t0 = t();
	const install = ensureN8n(major);
	report.ensureMs = t() - t0;
	report.version = install.version;
	report.install = install.marker;
	step(`n8n ${install.version} on node ${install.nodeVersion}: ensured in ${secs(report.ensureMs)}`);

	const ping = await startPingServer();
	const manualId = n8nId();
	const webhookId = n8nId();
	const triggerId = n8nId();
	const credId = n8nId();
	const probeWebhookId = 'a3b1c2d4-1111-4222-8333-944455556666';
	const hookPath = `e2e-smoke-${major}`;

	let n8n;
	try {
		t0 = t();
		n8n = await startN8n({
			major,
			packageTarball: tarballs,
			binaryDataMode: 'filesystem',
			credentials: [
				{ id: credId, name: 'Probe credential', type: 'e2eProbeApi', data: { baseUrl: ping.url, apiKey: 'good-key' } },
			],
			workflows: [
				manualWorkflow(manualId, credId),
				webhookWorkflow(webhookId, hookPath),
				probeTriggerWorkflow(triggerId, probeWebhookId),
			],
			activate: [webhookId, triggerId],
		});
		report.startTotalMs = t() - t0;
		report.prepareMs = n8n.timings.prepareMs;
		report.startToReadyMs = n8n.timings.startToReadyMs;
		report.startToUsableMs = n8n.timings.startToUsableMs;
		step(
			`started at ${n8n.baseUrl}: total ${secs(report.startTotalMs)} (imports+activation ${secs(report.prepareMs)}, ` +
				`start->ready ${secs(report.startToReadyMs)}, ->owner+api key ${secs(report.startToUsableMs)})`,
		);

		// The community package's nodes are known to n8n under <package>.<node>.
		const types = n8n.logText();
		assert.ok(!/Error loading package|Failed to load/i.test(types), 'package loading errors in log');

		// -------- production webhooks (activated before start)
		t0 = t();
		await n8n.waitForWebhook(`webhook/${hookPath}`);
		await n8n.waitForWebhook(`webhook/${probeWebhookId}/probe`);
		report.webhooksRegisteredMs = t() - t0;
		let res = await httpRequest('POST', `${n8n.baseUrl}/webhook/${hookPath}`, { json: { x: 21 } });
		step(`POST /webhook/${hookPath} -> ${res.status} ${res.text}`);
		assert.strictEqual(res.status, 200);
		const [wEx] = await n8n.waitForExecutions(webhookId, 1, 30_000);
		assert.strictEqual(wEx.status, 'success');
		const setOut = wEx.data.resultData.runData.Set[0].data.main[0][0].json;
		assert.deepStrictEqual(setOut, { doubled: 42 });

		res = await httpRequest('POST', `${n8n.baseUrl}/webhook/${probeWebhookId}/probe`, { json: { hello: 'trigger' } });
		const probeText = res.text;
		step(`POST /webhook/${probeWebhookId}/probe -> ${res.status} ${probeText}`);
		assert.strictEqual(res.status, 200);
		assert.deepStrictEqual(JSON.parse(probeText), { received: true });
		const [tEx] = await n8n.waitForExecutions(triggerId, 1, 30_000);
		const trigOut = tEx.data.resultData.runData['Probe Trigger'][0].data.main[0][0].json;
		assert.deepStrictEqual(trigOut, { body: { hello: 'trigger' }, via: 'e2eProbeTrigger' });
		step('webhooks: ok');

		// -------- manual run on the server
		t0 = t();
		const run = await n8n.executeWorkflow(manualId);
		report.manualRunMs = t() - t0;
		assert.strictEqual(run.status, 'success', JSON.stringify(run.error));
		const out = run.output('Probe');
		assert.deepStrictEqual(
			out.map((j) => [j.a, j.b, j.greeting]),
			[
				[41, 42, 'hi 42'],
				[1, 2, 'hi 2'],
			],
		);
		// n8n-workflow, as required by the community package, is n8n's own copy.
		const resolved = fs.realpathSync(out[0].n8nWorkflowPath);
		report.n8nWorkflowResolvedTo = resolved;
		assert.ok(resolved.startsWith(fs.realpathSync(install.dir)), `n8n-workflow from ${resolved}`);
		assert.ok(!fs.existsSync(path.join(n8n.n8nDir, 'nodes', 'node_modules', 'n8n-workflow')));
		step(`manual run via REST: ${run.status} in ${secs(report.manualRunMs)}; n8n-workflow -> ${resolved}`);

		// -------- credential test through /rest/credentials/test
		const good = await n8n.testCredential(credId);
		const bad = await n8n.testCredential(credId, { apiKey: 'bad-key' });
		step(`credential test: good=${JSON.stringify(good)} bad=${JSON.stringify(bad)}`);
		assert.strictEqual(good.status, 'OK');
		assert.strictEqual(bad.status, 'Error');

		report.rss = n8n.rss();
		step(
			`RSS ${mb(report.rss.total)}: ` +
				report.rss.processes.map((p) => `${p.pid} ${mb(p.rss)} ${p.cmd.slice(-60)}`).join(' | '),
		);

		// -------- restart with the same user folder; executions and webhooks survive
		t0 = t();
		await n8n.restart();
		report.restartMs = t() - t0;
		await n8n.waitForWebhook(`webhook/${hookPath}`);
		assert.ok((await n8n.executions(webhookId)).length >= 1);
		step(`restart: ${secs(report.restartMs)} (start->ready ${secs(n8n.timings.startToReadyMs)})`);

		// -------- CLI execute while the server is stopped
		await n8n.stop({ final: false });
		t0 = t();
		const cli = await n8n.executeWorkflowCli(manualId);
		report.cliExecuteMs = t() - t0;
		step(`n8n execute --id (server stopped): ok=${cli.ok} exit=${cli.code ?? cli.signal} in ${secs(report.cliExecuteMs)}`);
		assert.ok(cli.ok, `cli execute: ${cli.stdout.slice(-2000)}\n${cli.stderr.slice(-2000)}`);
		const cliOut = cli.result.data.resultData.runData.Probe[0].data.main[0].map((i) => i.json.greeting);
		assert.deepStrictEqual(cliOut, ['hi 42', 'hi 2']);

		report.logBytes = n8n.logText().length;
		await n8n.stop();
		report.ok = true;
	} catch (e) {
		report.ok = false;
		report.error = e.stack;
		if (n8n) {
			console.error(`--- log tail (${n8n.logFile}) ---\n${n8n.logTail(80)}`);
			await n8n.stop({ keep: true });
			console.error(`kept ${n8n.base}`);
		}
		throw e;
	} finally {
		await ping.close();
		console.log(JSON.stringify({ smoke: report }, (k, v) => (k === 'processes' ? undefined : v)));
	}
	return report;
}

async function main() {
	const arg = process.argv[2] || 'all';
	const majors = arg === 'all' ? [1, 2] : [Number(arg)];
	const tarballs = [packPackage(PROBE_DIR)];
	// The real package, when it has been built (its own e2e tests will use it properly).
	if (fs.existsSync(path.join(REPO_ROOT, 'dist'))) {
		try {
			tarballs.push(packPackage(REPO_ROOT));
			step(`also loading ${path.basename(tarballs[1])}`);
		} catch (e) {
			step(`could not pack the real package: ${e.message}`);
		}
	}
	try {
		for (const major of majors) {
			const t0 = t();
			await smoke(major, tarballs);
			step(`n8n ${major}.x: PASS in ${secs(t() - t0)}`);
		}
	} finally {
		for (const tb of tarballs) fs.rmSync(path.dirname(tb), { recursive: true, force: true });
	}
}

main().catch((e) => {
	console.error(e);
	process.exitCode = 1;
});
