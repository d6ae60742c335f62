'use strict';
/**
 * Benchmark 1, create throughput: 1,000 input items -> 1,000 data requests, this package's node
 * against n8n's HTTP Request node set up as a user would (POST {base}/v3/email/{email}/datarequest
 * with the access_token query parameter and a JSON body; full response, to read X-Created).
 *
 * Scenarios (SCENARIOS below), the node with its defaults (adaptive limit, at most 50 calls in
 * flight): the sandbox's own speed (127.0.0.1, no added latency); a simulated network round trip
 * of 50 ms per create (the sandbox's `slow` fault); the same round trip against a Copernica that
 * answers 429 to every call above 20 at once (the sandbox's `maxConcurrentCalls`; the answers of
 * 429 are counted); and the same round trip with the first 10 creates refused with 429 Too Many
 * Requests (Retry-After: 1). After one unmeasured run of
 * each (n8n loads node code on first use), both run in the same n8n, alternating, each scenario
 * `rounds` times (the burst scenario once); the best round of each counts (the machine may be
 * shared), and every round is kept in the raw results.
 *
 *   node bench/create.js [--items 1000] [--rounds 2]     (after npm run build)
 */
const {
	log,
	startSandboxProcess,
	startBenchN8n,
	runTimed,
	chain,
	itemsNode,
	copernicaNode,
	httpRequestNode,
	fixed,
	table,
} = require('./lib');

const SCENARIOS = [
	{ key: 'local', label: 'none (127.0.0.1)', latencyMs: 0 },
	{ key: 'wan', label: '50 ms per create', latencyMs: 50 },
	{
		key: 'refuse20',
		label: '50 ms per create; Copernica answers 429 to calls above 20 at once',
		latencyMs: 50,
		sandboxOptions: { maxConcurrentCalls: 20 },
	},
	{
		key: 'burst',
		label: '50 ms per create; the first 10 creates get 429 (Retry-After: 1)',
		latencyMs: 50,
		faults: [{ type: 'rate-limit', retryAfter: 1, times: 10, match: { kind: 'create' } }],
		once: true,
	},
];

function createWorkflow(impl, sandbox, items, nodeOptions = {}) {
	const node =
		impl === 'node'
			? copernicaNode('Create', { operation: 'create', subjectType: 'email', subject: '={{ $json.email }}', report: '', options: nodeOptions })
			: httpRequestNode('Create', {
					method: 'POST',
					url: `=${sandbox.url}/v3/email/{{ encodeURIComponent($json.email) }}/datarequest`,
					jsonBody: '{}',
					fullResponse: true,
				});
	return chain(`bench: create with the ${impl === 'node' ? 'Copernica' : 'HTTP Request'} node ${JSON.stringify(nodeOptions)}`, [
		itemsNode(items),
		node,
	]);
}

/** The data request ids a run produced, whichever node made them. */
function idsOf(run) {
	return run.output('Create').map((json) => json.id ?? json.headers?.['x-created']);
}

/**
 * @returns { rows: every round, best: the fastest successful round per scenario and implementation }
 *   row: { scenario, impl, round, items, nodeMs, executionMs, cpuMs, load, itemsPerSecond, created, ok, error }
 */
async function benchCreate({ n8n, sandbox, items = 1000, rounds = 2, scenarios = SCENARIOS }) {
	const workflowIds = new Map();
	const workflowFor = async (impl, nodeOptions) => {
		const key = `${impl} ${JSON.stringify(impl === 'node' ? (nodeOptions ?? {}) : {})}`;
		if (!workflowIds.has(key)) {
			workflowIds.set(key, (await n8n.api('POST', '/workflows', createWorkflow(impl, sandbox, items, nodeOptions))).body.id);
		}
		return workflowIds.get(key);
	};
	// One unmeasured run of each first: n8n loads and compiles node code on first use.
	await sandbox.clearFaults();
	for (const impl of ['node', 'http']) await runTimed(n8n, await workflowFor(impl, undefined));
	const rows = [];
	for (const scenario of scenarios) {
		for (let round = 1; round <= (scenario.once ? 1 : rounds); round++) {
			// Alternate which one goes first, so that neither always meets a warmer or busier n8n.
			for (const impl of round % 2 ? ['node', 'http'] : ['http', 'node']) {
				await sandbox.clearFaults();
				await sandbox.setOptions({ maxConcurrentCalls: 'Infinity', ...scenario.sandboxOptions });
				for (const fault of scenario.faults ?? []) await sandbox.addFault(fault);
				if (scenario.latencyMs > 0) {
					await sandbox.addFault({ type: 'slow', delayMs: scenario.latencyMs, times: 'Infinity', match: { kind: 'create' } });
				}
				const workflowId = await workflowFor(impl, scenario.nodeOptions);
				const stateBefore = await sandbox.state();
				const before = stateBefore.counts.created;
				const { run, nodeMs, executionMs, cpuMs, load } = await runTimed(n8n, workflowId);
				const stateAfter = await sandbox.state();
				const after = stateAfter.counts.created;
				// Every answer of 429: the sandbox's over-the-limit refusals and the burst faults.
				const refusals = stateAfter.load.answered429 - stateBefore.load.answered429;
				const ids = idsOf(run);
				const ok = run.status === 'success' && ids.length === items && ids.every(Boolean) && after - before === items;
				const ms = nodeMs('Create') ?? executionMs;
				const row = {
					scenario: scenario.key,
					impl,
					round,
					items,
					nodeMs: ms,
					executionMs,
					cpuMs,
					load,
					itemsPerSecond: (items / ms) * 1000,
					created: after - before,
					returned: ids.filter(Boolean).length,
					refusals,
					mostInFlight: stateAfter.load.mostInFlight,
					ok,
					error: run.error?.message,
				};
				log(
					`create, ${scenario.label}, ${impl}, round ${round}: ${ms} ms, ${fixed(row.itemsPerSecond)} items/s, ` +
						`n8n CPU ${Math.round(cpuMs)} ms, load ${load}, ${row.created} data requests made, ${refusals} answers of 429, ok ${ok}${row.error ? ` (${row.error})` : ''}`,
				);
				rows.push(row);
			}
		}
	}
	await sandbox.clearFaults();
	await sandbox.setOptions({ maxConcurrentCalls: 'Infinity' });
	const best = [];
	for (const scenario of scenarios) {
		for (const impl of ['node', 'http']) {
			const candidates = rows.filter((r) => r.scenario === scenario.key && r.impl === impl);
			best.push(candidates.filter((r) => r.ok).sort((a, b) => a.nodeMs - b.nodeMs)[0] ?? candidates[0]);
		}
	}
	return { rows, best };
}

function createTable({ best }, scenarios = SCENARIOS) {
	const refused = (r) => (r.refusals ? `; ${r.refusals} answers of 429` : '');
	const cell = (r) =>
		r.ok
			? `${fixed(r.itemsPerSecond)} (${(r.nodeMs / 1000).toFixed(2)} s; CPU ${fixed(r.cpuMs / r.items, 1)} ms/item${refused(r)})`
			: `failed ("${String(r.error ?? 'incomplete output').slice(0, 60)}"): ${r.created} data requests made, ${r.returned} ids returned${refused(r)}`;
	const out = [];
	for (const scenario of scenarios) {
		const node = best.find((r) => r.scenario === scenario.key && r.impl === 'node');
		const http = best.find((r) => r.scenario === scenario.key && r.impl === 'http');
		if (!node || !http) continue;
		out.push([
			scenario.label,
			`${node.items}`,
			cell(node),
			cell(http),
			node.ok && http.ok ? `**${fixed(node.itemsPerSecond / http.itemsPerSecond, 2)}×**` : '–',
			`${node.load} / ${http.load}`,
		]);
	}
	return table(
		[
			'added latency, faults',
			'items',
			'Copernica node (defaults: adaptive, at most 50 in flight): items/s (node time; n8n CPU per item)',
			'HTTP Request node: items/s (node time; n8n CPU per item)',
			'node ÷ HTTP',
			'load avg (node / HTTP)',
		],
		out,
	);
}

module.exports = { benchCreate, createTable, SCENARIOS };

if (require.main === module) {
	const arg = (name, fallback) => {
		const at = process.argv.indexOf(`--${name}`);
		return at === -1 ? fallback : process.argv[at + 1];
	};
	(async () => {
		const sandbox = await startSandboxProcess({ fileSize: 2000 });
		const n8n = await startBenchN8n(sandbox, { major: Number(arg('major', 2)) });
		try {
			const scenarios = arg('scenarios') ? SCENARIOS.filter((s) => arg('scenarios').split(',').includes(s.key)) : SCENARIOS;
			const result = await benchCreate({ n8n, sandbox, items: Number(arg('items', 1000)), rounds: Number(arg('rounds', 2)), scenarios });
			console.log(createTable(result, scenarios));
		} finally {
			await n8n.stop();
			await sandbox.close();
		}
	})().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
