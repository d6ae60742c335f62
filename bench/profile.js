'use strict';
/**
 * CPU profile of one benchmark case inside real n8n: starts n8n with `--cpu-prof`, runs the case
 * once, stops n8n (the profile is written at exit) and prints where the main process spent its
 * time: the heaviest functions by self time, and by total time (callees included) for the
 * functions of this package and of n8n's request helpers. The .cpuprofile file stays for
 * Chrome DevTools / speedscope.
 *
 *   node bench/profile.js create [--items 1000] [--latency 0] [--concurrency 5]
 *   node bench/profile.js get [--mb 100] [--impl node|http|probe-http|probe-file]
 *   node bench/profile.js trigger [--mb 50] [--mode binary|json]
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

const { log, startSandboxProcess, startBenchN8n, runTimed, chain, copernicaNode, httpRequestNode, curlDownload, MB } = require('./lib');
const { benchCreate } = require('./create');

const arg = (name, fallback) => {
	const at = process.argv.indexOf(`--${name}`);
	return at === -1 ? fallback : process.argv[at + 1];
};

/** Self and total time per function (name, file, line) from a .cpuprofile. */
function summarize(profile) {
	const byId = new Map(profile.nodes.map((n) => [n.id, { ...n, self: 0 }]));
	const interval = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length) / 1000; // ms
	for (const id of profile.samples) byId.get(id).self += interval;
	const parent = new Map();
	for (const n of byId.values()) for (const c of n.children || []) parent.set(c, n.id);
	const key = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*node_modules\//, '')}:${n.callFrame.lineNumber + 1}`;
	const self = new Map();
	const total = new Map();
	for (const n of byId.values()) {
		self.set(key(n), (self.get(key(n)) || 0) + n.self);
		// Total: add this node's self time to every distinct function on its stack.
		const seen = new Set();
		for (let at = n; at; at = byId.get(parent.get(at.id))) {
			const k = key(at);
			if (seen.has(k)) continue;
			seen.add(k);
			total.set(k, (total.get(k) || 0) + n.self);
		}
	}
	const sorted = (map) => [...map.entries()].sort((a, b) => b[1] - a[1]);
	return { self: sorted(self), total: sorted(total), wallMs: (profile.endTime - profile.startTime) / 1000 };
}

async function main() {
	const what = process.argv[2] || 'create';
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cpuprof-'));
	const sandbox = await startSandboxProcess({ fileSize: 2000 });
	const impl = arg('impl', 'node');
	const n8n = await startBenchN8n(sandbox, {
		binaryDataMode: 'filesystem',
		probe: impl.startsWith('probe-'),
		env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir} --cpu-prof-interval=500` },
	});
	try {
		if (what === 'create') {
			const scenario = {
				key: 'profile',
				label: 'profile',
				latencyMs: Number(arg('latency', 0)),
				nodeOptions: arg('concurrency') ? { concurrency: Number(arg('concurrency')) } : undefined,
			};
			const { rows } = await benchCreate({ n8n, sandbox, items: Number(arg('items', 1000)), rounds: 1, scenarios: [scenario] });
			console.log(rows);
		} else if (what === 'trigger') {
			await n8n.stop(); // the trigger bench starts its own n8n; profile that one instead
			process.env.BENCH_N8N_NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${dir} --cpu-prof-interval=500`;
			const { benchTrigger } = require('./trigger');
			console.log(await benchTrigger({ sandbox, cases: [[arg('mode', 'binary'), Number(arg('mb', 50))]] }));
		} else {
			const size = Number(arg('mb', 100)) * MB;
			await sandbox.setOptions({ fileSize: size });
			const id = await sandbox.createDataRequest('profile@example.com');
			let localFile;
			if (impl === 'probe-file') {
				// The same bytes from a local file: n8n's store alone.
				localFile = path.join(dir, 'file.json');
				curlDownload(sandbox.dataUrl(id), localFile, { keep: true });
			}
			const node =
				impl === 'node'
					? copernicaNode('Get', { operation: 'get', requestId: id, returnAs: 'binary', binaryPropertyName: 'data' })
					: impl.startsWith('probe-')
						? { name: 'Get', type: 'n8n-nodes-bench-probe.benchStoreProbe', parameters: impl === 'probe-file' ? { source: 'file', location: localFile } : { source: 'http', location: sandbox.dataUrl(id) } }
						: httpRequestNode('Get', { method: 'GET', url: `${sandbox.url}/v3/datarequest/${id}/data`, file: true });
			const wf = (await n8n.api('POST', '/workflows', chain('bench: profile get', [node]))).body;
			const { nodeMs, executionMs } = await runTimed(n8n, wf.id);
			console.log({ nodeMs: nodeMs('Get'), executionMs });
		}
	} finally {
		await n8n.stop();
		await sandbox.close();
	}
	const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
	// The last n8n server's main thread (CLI imports and the task runner write profiles too): of
	// the main-thread profiles (".0.001") over 1 MB, the one written last.
	const main = files
		.filter((f) => f.endsWith('.0.001.cpuprofile'))
		.map((f) => path.join(dir, f))
		.filter((f) => fs.statSync(f).size > 1024 * 1024)
		.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
	if (!main) throw new Error(`no profile written in ${dir}`);
	const { self, total, wallMs } = summarize(JSON.parse(fs.readFileSync(main, 'utf8')));
	log(`profile ${main} (${(wallMs / 1000).toFixed(1)} s of process life)`);
	console.log('\nself time (ms), top 30:');
	for (const [k, ms] of self.slice(0, 30)) console.log(`${ms.toFixed(0).padStart(8)}  ${k}`);
	console.log('\ntotal time (ms) of package and request-helper functions, top 40:');
	const interesting = /n8n-nodes-copernica|request-helper|credentials|getCredentials|httpRequest|getNodeParameter|expression|Expression|isolated|prepareBinaryData|binary-data|binaryData|runNode|execute/i;
	for (const [k, ms] of total.filter(([k]) => interesting.test(k)).slice(0, 40)) console.log(`${ms.toFixed(0).padStart(8)}  ${k}`);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
