'use strict';
/**
 * Benchmark 2, Get of a large file: data request files of 1, 10, 100 and 500 MB returned as
 * binary, in n8n's filesystem binary data mode, by this package's node (Get, "Binary File") and
 * by n8n's HTTP Request node (GET .../data with the access_token query parameter, response format
 * File), with a plain `curl` download of the same file as the floor.
 *
 * Each implementation gets a fresh n8n (so that one's memory does not pass for the other's) and
 * runs the sizes in ascending order. During each run the RSS of n8n's process group (main process
 * and task runner) is sampled every 100 ms; reported are the peak, and the peak minus the RSS
 * before the run (the highest of ten samples in the second before: the growth the run caused). Files up to 100 MB run twice (the faster round's
 * time counts, the first round's memory), 500 MB once.
 *
 *   node bench/get.js [--sizes 1,10,100,500] [--impls node,http] [--rounds 2] [--together]
 *     impls: node, http, probe-file, probe-http (the binary store probe), before (an earlier
 *     build: BENCH_BEFORE_TARBALL=$(node bench/pack-revision.js <commit>)); --together runs them
 *     in one n8n, taking turns with curl in every round (500 MB too), for figures at the same load.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

const {
	MB,
	log,
	sleep,
	startSandboxProcess,
	startBenchN8n,
	runMeasured,
	binaryBytes,
	chain,
	copernicaNode,
	httpRequestNode,
	curlDownload,
	mb,
	fixed,
	table,
	rowsBy,
} = require('./lib');

const LABEL = {
	node: 'Copernica node',
	http: 'HTTP Request node',
	curl: 'curl',
	'probe-file': "n8n's store alone (probe: local file stream)",
	'probe-http': "n8n's store + node:http (probe)",
	before: 'Copernica node, build of BENCH_BEFORE_TARBALL',
};
const PROBES = ['probe-file', 'probe-http'];

function getWorkflow(impl, sandbox, id, localFile) {
	const probe = (source, location) => ({ name: 'Get', type: 'n8n-nodes-bench-probe.benchStoreProbe', parameters: { source, location } });
	const node =
		impl === 'node' || impl === 'before'
			? copernicaNode('Get', { operation: 'get', requestId: id, returnAs: 'binary', binaryPropertyName: 'data' })
			: impl === 'probe-file'
				? probe('file', localFile)
				: impl === 'probe-http'
					? probe('http', sandbox.dataUrl(id))
					: httpRequestNode('Get', { method: 'GET', url: `${sandbox.url}/v3/datarequest/${id}/data`, file: true });
	return chain(`bench: get ${id} with the ${LABEL[impl]}`, [node]);
}

/** Bytes of the file the run put in its binary field: the node's own count, or n8n's record. */
function binarySizeOf(run) {
	const item = run.runData.Get?.[0]?.data?.main?.[0]?.[0];
	if (!item?.binary?.data) return undefined;
	return item.json?.summary?.bytes ?? binaryBytes(item.binary.data);
}

/**
 * @returns rows: { impl, sizeMb, bytes, ms, baseline, peak, growth, ok, load }
 */
async function benchGet({ sandbox, sizesMb = [1, 10, 100, 500], impls = ['node', 'http'], major = 2, rounds = 2, together = false }) {
	// One data request per size, made before anything is measured.
	const ids = {};
	for (const size of sizesMb) {
		await sandbox.setOptions({ fileSize: size * MB, readyAfterMs: 0 });
		ids[size] = await sandbox.createDataRequest(`large-${size}mb@example.com`);
	}
	const rows = [];
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-curl-'));
	// The probe's local file: the same bytes, downloaded once before anything is measured.
	const localFiles = {};
	if (impls.includes('probe-file')) {
		for (const size of sizesMb) {
			localFiles[size] = path.join(tmp, `local-${size}.json`);
			curlDownload(sandbox.dataUrl(ids[size]), localFiles[size], { keep: true });
		}
	}
	for (const size of sizesMb) {
		for (let round = 1; round <= (size >= 500 ? 1 : rounds); round++) {
			const { ms, bytes } = curlDownload(sandbox.dataUrl(ids[size]), path.join(tmp, 'data.json'));
			rows.push({ impl: 'curl', sizeMb: size, round, bytes, ms, ok: bytes >= size * MB, load: Math.round(os.loadavg()[0] * 10) / 10 });
			log(`get ${size} MB, curl, round ${round}: ${ms} ms, ${bytes} bytes`);
		}
	}

	// Together: one n8n for all (an earlier build still gets its own), the implementations and curl
	// taking turns within each round, so that they meet the same machine load.
	const groups = together ? [impls.filter((i) => i !== 'before'), ...(impls.includes('before') ? [['before']] : [])] : impls.map((i) => [i]);
	for (const group of groups) {
		const tarball = group.includes('before') ? process.env.BENCH_BEFORE_TARBALL : undefined;
		if (group.includes('before') && !tarball) throw new Error('impl "before" needs BENCH_BEFORE_TARBALL=$(node bench/pack-revision.js <commit>)');
		const n8n = await startBenchN8n(sandbox, { major, binaryDataMode: 'filesystem', probe: group.some((i) => PROBES.includes(i)), tarball });
		try {
			const workflows = {};
			for (const impl of group) {
				for (const size of sizesMb) {
					workflows[`${impl} ${size}`] = (await n8n.api('POST', '/workflows', getWorkflow(impl, sandbox, ids[size], localFiles[size]))).body;
				}
			}
			await sleep(3000); // let the start settle
			for (const size of sizesMb) {
				for (let round = 1; round <= (size >= 500 && !together ? 1 : rounds); round++) {
					const order = round % 2 ? group : [...group].reverse();
					if (together) {
						const { ms, bytes } = curlDownload(sandbox.dataUrl(ids[size]), path.join(tmp, 'data.json'));
						rows.push({ impl: 'curl', sizeMb: size, round, bytes, ms, ok: bytes >= size * MB, load: Math.round(os.loadavg()[0] * 10) / 10, together: true });
						log(`get ${size} MB, curl, round ${round}: ${ms} ms, load ${Math.round(os.loadavg()[0] * 10) / 10}`);
					}
					for (const impl of order) {
						const { run, nodeMs, executionMs, cpuMs, load, baseline, peak } = await runMeasured(n8n, workflows[`${impl} ${size}`].id);
						const bytes = binarySizeOf(run);
						const ok = run.status === 'success' && typeof bytes === 'number' && bytes >= size * MB;
						const row = { impl, sizeMb: size, round, bytes, ms: nodeMs('Get'), executionMs, cpuMs, baseline, peak, growth: peak - baseline, ok, load };
						if (!ok) row.error = run.error?.message ?? `binary of ${bytes} bytes`;
						log(
							`get ${size} MB, ${impl}, round ${round}: ${row.ms} ms (execution ${executionMs} ms, n8n CPU ${Math.round(cpuMs)} ms), ` +
								`RSS ${mb(baseline)} -> peak ${mb(peak)} MB (+${mb(row.growth)}), load ${load}, ok ${ok}${row.error ? ` (${row.error})` : ''}`,
						);
						rows.push(row);
						await sleep(1000);
					}
				}
			}
		} finally {
			await n8n.stop();
		}
	}
	fs.rmSync(tmp, { recursive: true, force: true });
	return rows;
}

/** Per implementation and size: the fastest round's time and CPU, the first round's memory (fresh n8n, sizes ascending). */
function getTable(rows) {
	const { sizes, of, fastest } = rowsBy(rows);
	const first = (impl, size) => of(impl, size).find((r) => r.round === 1);
	const failed = (impl, size) => of(impl, size).some((r) => !r.ok);
	const time = (impl, size) => {
		const r = fastest(impl, size);
		if (!r) return '–';
		const cpu = r.cpuMs === undefined ? '' : ` (CPU ${fixed(r.cpuMs / 1000, 1)} s)`;
		return `${fixed(r.ms / 1000, 2)} s${cpu}${failed(impl, size) ? ' FAILED' : ''}`;
	};
	const memory = (impl, size) => {
		const r = first(impl, size);
		return r && r.peak ? `${mb(r.peak)} MB (+${mb(r.growth)})` : '–';
	};
	// Columns for what was measured: curl, the node, the HTTP Request node, then any earlier build and probes.
	const measured = ['node', 'before', 'http', ...PROBES].filter((impl) => rows.some((r) => r.impl === impl));
	const out = sizes.map((size) => [
		`${size} MB`,
		time('curl', size),
		...measured.map((impl) => time(impl, size)),
		...measured.filter((impl) => impl === 'node' || impl === 'http').map((impl) => memory(impl, size)),
	]);
	return table(
		[
			'file',
			'curl (floor)',
			...measured.map((impl) => `${LABEL[impl]}: time (n8n CPU)`),
			...measured.filter((impl) => impl === 'node' || impl === 'http').map((impl) => `${LABEL[impl]}: peak RSS (growth)`),
		],
		out,
	);
}

module.exports = { benchGet, getTable };

if (require.main === module) {
	const arg = (name, fallback) => {
		const at = process.argv.indexOf(`--${name}`);
		return at === -1 ? fallback : process.argv[at + 1];
	};
	(async () => {
		const sandbox = await startSandboxProcess();
		try {
			const rows = await benchGet({
				sandbox,
				sizesMb: arg('sizes', '1,10,100,500').split(',').map(Number),
				impls: arg('impls', 'node,http').split(','),
				major: Number(arg('major', 2)),
				rounds: Number(arg('rounds', 2)),
				together: process.argv.includes('--together'),
			});
			console.log(getTable(rows));
		} finally {
			await sandbox.close();
		}
	})().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
