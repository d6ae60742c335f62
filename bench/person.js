'use strict';
/**
 * Benchmark 5, the person bundle: Get of a Subject Type "Person" set as one binary file. The person
 * has one profile with one subprofile, so the set has three parts (the email request, the profile,
 * the subprofile), each a third of the size measured. Measured per size: the node's Get of the set
 * (n8n's time, n8n's CPU, the peak RSS growth of n8n's process group), the node's Get of one file
 * of the same total size, and the floor: curl of the three parts one after the other.
 *
 * Real n8n (2.41.1 unless --major 1) with the packed package, filesystem binary mode, the sandbox
 * as its own process with an account seeded over its control API.
 *
 *   node bench/person.js [--sizes 100,500] [--rounds 2]     (after npm run build)
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

const { MB, log, sleep, startSandboxProcess, startBenchN8n, runTimed, runMeasured, chain, copernicaNode, curlDownload, mb, fixed, table, rowsBy } =
	require('./lib');

const PERSON = 'bundle.person@example.com';
const ACCOUNT = {
	databases: [
		{
			ID: 1,
			name: 'Customers',
			fields: [{ ID: 11, name: 'email', type: 'email' }],
			collections: [{ ID: 101, name: 'Orders', fields: [{ ID: 111, name: 'order_no' }] }],
			profiles: [{ ID: 1001, fields: { email: PERSON }, subprofiles: { Orders: [{ ID: 5001, fields: { order_no: 'A-1' } }] } }],
		},
	],
};
const PARTS = 3;

const getNode = (requestId) => copernicaNode('Get', { operation: 'get', requestId, returnAs: 'binary', binaryPropertyName: 'data' });

async function measure(n8n, workflowId) {
	const { run, nodeMs, cpuMs, load, baseline, peak, growth } = await runMeasured(n8n, workflowId);
	const item = run.output('Get')[0] ?? {};
	return { ms: nodeMs('Get'), cpuMs, load, baseline, peak, growth, bytes: item.summary?.bytes, parts: item.summary?.parts, ok: run.status === 'success' };
}

async function benchPerson({ sandbox, sizesMb = [100, 500], rounds = 2, major = 2 }) {
	const rows = [];
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-person-'));
	await sandbox.control('POST', '/account', ACCOUNT);
	const n8n = await startBenchN8n(sandbox, { major, binaryDataMode: 'filesystem' });
	try {
		const create = (await n8n.api('POST', '/workflows', chain('bench: person create', [copernicaNode('Create', { operation: 'create', subjectType: 'person', subject: PERSON })]))).body;
		for (const size of sizesMb) {
			// The parts of the set, a third of the size each, and one file of the whole size.
			await sandbox.setOptions({ fileSize: Math.round((size * MB) / PARTS), readyAfterMs: 0 });
			const known = new Set((await sandbox.state()).dataRequests.map((r) => r.id));
			const created = await runTimed(n8n, create.id);
			const setId = created.run.output('Create')[0]?.id;
			if (typeof setId !== 'string' || !setId.startsWith('person:')) throw new Error(`Create gave no set: ${JSON.stringify(created.run.output('Create')).slice(0, 300)}`);
			const partIds = (await sandbox.state()).dataRequests.filter((r) => !known.has(r.id)).map((r) => r.id);
			await sandbox.setOptions({ fileSize: size * MB });
			const singleId = await sandbox.createDataRequest(`single-${size}mb@example.com`);
			const bundle = (await n8n.api('POST', '/workflows', chain(`bench: person bundle ${size} MB`, [getNode(setId)]))).body;
			const single = (await n8n.api('POST', '/workflows', chain(`bench: one file ${size} MB`, [getNode(singleId)]))).body;
			await sleep(2000);
			for (let round = 1; round <= rounds; round++) {
				let curlMs = 0;
				for (const id of partIds) curlMs += curlDownload(sandbox.dataUrl(id), path.join(tmp, 'part.json')).ms;
				rows.push({ impl: 'curl', sizeMb: size, round, ms: curlMs, parts: partIds.length, ok: partIds.length === PARTS });
				log(`person ${size} MB, curl of the ${partIds.length} parts, round ${round}: ${curlMs} ms`);
				for (const [impl, workflow] of round % 2 ? [['bundle', bundle], ['single', single]] : [['single', single], ['bundle', bundle]]) {
					const row = { impl, sizeMb: size, round, ...(await measure(n8n, workflow.id)) };
					row.ok = row.ok && row.bytes >= size * MB * 0.99;
					log(
						`person ${size} MB, ${impl}, round ${round}: ${row.ms} ms (n8n CPU ${Math.round(row.cpuMs)} ms), ${row.parts ?? 1} part(s), ${row.bytes} bytes, ` +
							`RSS ${mb(row.baseline)} -> ${mb(row.peak)} MB (+${mb(row.growth)}), load ${row.load}, ok ${row.ok}`,
					);
					rows.push(row);
					await sleep(1000);
				}
			}
		}
	} finally {
		await n8n.stop();
		fs.rmSync(tmp, { recursive: true, force: true });
	}
	return rows;
}

/** Per size: the fastest round's time and CPU; the largest memory growth seen. */
function personTable(rows) {
	const { sizes, of, fastest: best } = rowsBy(rows);
	const time = (impl, size) => {
		const r = best(impl, size);
		if (!r) return '–';
		const failed = of(impl, size).some((x) => !x.ok) ? ' FAILED' : '';
		return `${fixed(r.ms / 1000, 2)} s${r.cpuMs === undefined ? '' : ` (CPU ${fixed(r.cpuMs / 1000, 1)} s)`}${failed}`;
	};
	const growth = (impl, size) => `+${mb(Math.max(...of(impl, size).map((r) => r.growth)))} MB`;
	return table(
		['total size', 'curl of the 3 parts (floor)', 'Get of the set: bundle of 3 parts', 'Get of one file of that size', 'bundle ÷ one file', 'RSS growth: bundle / one file'],
		sizes.map((size) => [
			`${size} MB`,
			time('curl', size),
			time('bundle', size),
			time('single', size),
			`${fixed(best('bundle', size)?.ms / best('single', size)?.ms, 2)}×`,
			`${growth('bundle', size)} / ${growth('single', size)}`,
		]),
	);
}

module.exports = { benchPerson, personTable };

if (require.main === module) {
	const arg = (name, fallback) => {
		const at = process.argv.indexOf(`--${name}`);
		return at === -1 ? fallback : process.argv[at + 1];
	};
	(async () => {
		const sandbox = await startSandboxProcess();
		try {
			const rows = await benchPerson({
				sandbox,
				sizesMb: arg('sizes', '100,500').split(',').map(Number),
				rounds: Number(arg('rounds', 2)),
				major: Number(arg('major', 2)),
			});
			console.log(personTable(rows));
		} finally {
			await sandbox.close();
		}
	})().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
