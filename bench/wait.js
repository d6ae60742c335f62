'use strict';
/**
 * Benchmark 3, waiting for a file: how many API calls, and how long from "the file is ready at
 * Copernica" to "the workflow has it", for
 *   - Get with "Wait for File" (the node polls /status, each wait twice the last, up to a maximum),
 *   - Create and Wait (the execution waits; Copernica's report POST to the resume URL continues it),
 * for files that are ready 1 s, 30 s and 10 min after the create.
 *
 * The 1 s and 30 s cases run in real time. Ten real minutes do not fit a 15-minute bench run, so
 * the 10 min case runs against a second sandbox whose clock runs 10x (the file is ready after 60
 * real seconds) and, for Get, with the node's poll intervals divided by 10 as well (first 0.1 s,
 * maximum 6 s instead of 1 s and 60 s): the node then makes exactly the checks it would make in
 * real time, and its latency, measured in real seconds, is multiplied by 10. Create and Wait does
 * not poll, so its latency is reported as measured. All six cases run at the same time.
 *
 *   node bench/wait.js     (after npm run build)
 */
const { MB, log, sleep, startSandboxProcess, startBenchN8n, chain, copernicaNode, fixed, table, CREDENTIAL_ID } = require('./lib');

const FAST_CREDENTIAL_ID = 'copernicaBenchFast';
const SPEED = 10;
const FILE_BYTES = 1 * MB;

const CASES = [
	{ method: 'get', readyMs: 1_000 },
	{ method: 'get', readyMs: 30_000 },
	{ method: 'get', readyMs: 600_000, fast: true },
	{ method: 'createAndWait', readyMs: 1_000 },
	{ method: 'createAndWait', readyMs: 30_000 },
	{ method: 'createAndWait', readyMs: 600_000, fast: true },
];

function workflowFor(c, id, email) {
	const credentialId = c.fast ? FAST_CREDENTIAL_ID : CREDENTIAL_ID;
	const parameters =
		c.method === 'get'
			? {
					operation: 'get',
					requestId: id,
					returnAs: 'binary',
					binaryPropertyName: 'data',
					waitForFile: true,
					maxWaitSeconds: c.fast ? 900 / SPEED : 900,
					options: c.fast ? { pollIntervalSeconds: 1 / SPEED, maxPollIntervalSeconds: 60 / SPEED } : {},
				}
			: { operation: 'createAndWait', subjectType: 'email', subject: email, returnAs: 'binary', binaryPropertyName: 'data' };
	return chain(`bench: ${c.method} ${c.readyMs} ms`, [copernicaNode('Node', parameters, credentialId)]);
}

async function waitForCreate(box, email, timeoutMs = 60_000) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		const found = (await box.state()).dataRequests.find((r) => r.target === email);
		if (found) return found.id;
		await sleep(100);
	}
	throw new Error(`no data request for ${email} after ${timeoutMs} ms`);
}

/**
 * @returns rows: { method, readyMs, fast, calls, callsByKind, latencyMs, measuredMs, ok }
 */
async function benchWait({ n8n, sandbox, fastSandbox, quick = false }) {
	for (const box of [sandbox, fastSandbox]) {
		await box.reset();
		await box.setOptions({ fileSize: FILE_BYTES });
	}
	const started = [];
	for (const [index, c] of CASES.entries()) {
		if (quick && c.fast) continue;
		const box = c.fast ? fastSandbox : sandbox;
		const email = `wait-${c.method}-${index}@example.com`;
		await box.setOptions({ readyAfterMs: c.readyMs });
		// Get waits for a request made beforehand; Create and Wait makes its own. When it was made is
		// taken in real time here (the sandbox's log runs on its own clock, 10x for the fast one);
		// Create and Wait's create is seen by polling, at most 100 ms late.
		const id = c.method === 'get' ? await box.createDataRequest(email) : undefined;
		let createdAt = Date.now();
		const workflow = (await n8n.api('POST', '/workflows', workflowFor(c, id, email))).body;
		const done = n8n.executeWorkflow(workflow.id, { timeoutMs: 20 * 60_000 });
		done.catch(() => {}); // awaited below
		const madeId = id ?? (await waitForCreate(box, email));
		if (id === undefined) createdAt = Date.now();
		started.push({ c, box, email, done, id: madeId, createdAt });
		log(`wait: started ${c.method}, ready after ${c.readyMs / 1000} s${c.fast ? ` (sandbox clock x${SPEED})` : ''}`);
	}
	const rows = [];
	for (const { c, box, done, id, createdAt } of started) {
		const run = await done;
		const state = await box.state();
		const calls = state.requests.filter((r) => r.id === id);
		// Get's request was made by the bench, not the node: count only what the node asked.
		const nodeCalls = calls.filter((r) => c.method !== 'get' || r.kind !== 'create');
		const callsByKind = {};
		for (const r of nodeCalls) callsByKind[r.kind] = (callsByKind[r.kind] ?? 0) + 1;
		const readyAt = createdAt + c.readyMs / (c.fast ? SPEED : 1);
		const measuredMs = new Date(run.execution.stoppedAt).getTime() - readyAt;
		const scale = c.fast && c.method === 'get' ? SPEED : 1;
		const output = run.output('Node')[0] ?? {};
		const ok = run.status === 'success' && output.status === 'available';
		const deliveries = state.deliveries.filter((d) => d.requestId === id).length;
		const row = { method: c.method, readyMs: c.readyMs, fast: !!c.fast, calls: nodeCalls.length, callsByKind, deliveries, measuredMs, latencyMs: measuredMs * scale, ok };
		if (!ok) row.error = run.error?.message ?? `status ${run.status}, output ${JSON.stringify(output).slice(0, 200)}`;
		log(`wait: ${c.method}, ready after ${c.readyMs / 1000} s: ${row.calls} calls ${JSON.stringify(callsByKind)}, latency ${fixed(row.latencyMs / 1000, 2)} s, ok ${ok}${row.error ? ` (${row.error})` : ''}`);
		rows.push(row);
	}
	return rows;
}

function waitTable(rows) {
	const label = { get: 'Get, Wait for File (polling)', createAndWait: 'Create and Wait (resume URL)' };
	const ready = (ms) => (ms >= 60_000 ? `${ms / 60_000} min` : `${ms / 1000} s`);
	return table(
		['operation', 'file ready after', 'API calls by the node', 'ready → workflow has the file', 'how measured'],
		rows.map((r) => [
			label[r.method],
			ready(r.readyMs),
			`${r.calls} (${Object.entries(r.callsByKind).map(([k, n]) => `${k} ${n}`).join(', ')})${r.method === 'createAndWait' ? ` + ${r.deliveries} report POST from Copernica` : ''}`,
			`${fixed(r.latencyMs / 1000, 2)} s${r.ok ? '' : ' FAILED'}`,
			r.fast
				? r.method === 'get'
					? `sandbox clock x${SPEED}, poll intervals ÷${SPEED}; latency x${SPEED}`
					: `sandbox clock x${SPEED} (file after ${r.readyMs / SPEED / 1000} s real)`
				: 'real time',
		]),
	);
}

module.exports = { benchWait, waitTable, FAST_CREDENTIAL_ID, SPEED };

if (require.main === module) {
	(async () => {
		const sandbox = await startSandboxProcess();
		const fastSandbox = await startSandboxProcess({ clockSpeed: SPEED });
		const n8n = await startBenchN8n(sandbox, { binaryDataMode: 'filesystem', moreSandboxes: { [FAST_CREDENTIAL_ID]: fastSandbox } });
		try {
			console.log(waitTable(await benchWait({ n8n, sandbox, fastSandbox })));
		} finally {
			await n8n.stop();
			await sandbox.close();
			await fastSandbox.close();
		}
	})().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
