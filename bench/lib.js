'use strict';
/**
 * Shared pieces of the benchmarks: the Copernica sandbox as its own process, real n8n with the
 * packed package (test/e2e/n8n.js), a memory sampler for n8n's process group, workflow builders
 * for this package's node and for n8n's HTTP Request node configured as a user would, and the
 * machine description that goes into RESULTS.md.
 *
 * Everything listens on 127.0.0.1, on ports 5600-5799 (the e2e library's freePort).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');

const { startN8n, packPackage, freePort, httpRequest } = require('../test/e2e/n8n');
const { ensureN8n } = require('../test/e2e/install-n8n');

const ROOT = path.resolve(__dirname, '..');
const TOKEN = 'bench-token-3b9e1c7d5a';
const CREDENTIAL_ID = 'copernicaBench01';
const MB = 1024 * 1024;
const NODE_TYPE = 'n8n-nodes-copernica.copernicaDataRequest';
const TRIGGER_TYPE = 'n8n-nodes-copernica.copernicaDataRequestTrigger';
const HTTP_REQUEST_VERSION = 4.2; // present in n8n 1.x and 2.x; same code (V3 class) as 4.3-4.x

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (...args) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);

/* ------------------------------------------------------------------ the machine */

/** Cores, CPU model, memory and OS of this machine, and the Node versions of the bench and of n8n. */
function machine(major = 2) {
	const cpus = os.cpus();
	let node24 = '';
	try {
		node24 = execFileSync(ensureN8n(major).nodeBin, ['--version'], { encoding: 'utf8' }).trim();
	} catch {
		/* reported as unknown */
	}
	return {
		cores: cpus.length,
		cpu: cpus[0]?.model?.trim() || 'unknown',
		memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
		os: `${os.type()} ${os.release()} ${os.arch()}`,
		benchNode: process.version,
		n8nNode: node24 || 'unknown',
	};
}

/* ------------------------------------------------------------------ the sandbox, out of process */

/**
 * Starts test/sandbox/cli.js as a child process (so that serving a 500 MB file never competes with
 * this process's memory sampler) and returns a small client for its API and control API.
 */
async function startSandboxProcess(options = {}) {
	const port = await freePort();
	const args = [path.join(ROOT, 'test/sandbox/cli.js'), '--port', String(port), '--token', TOKEN];
	for (const [key, value] of Object.entries(options)) {
		args.push(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, typeof value === 'string' ? value : JSON.stringify(value));
	}
	const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
	const ready = await new Promise((resolve, reject) => {
		let text = '';
		child.stdout.on('data', (chunk) => {
			text += chunk;
			const line = /SANDBOX_READY (\{.*\})/.exec(text);
			if (line) resolve(JSON.parse(line[1]));
		});
		child.once('exit', (code) => reject(new Error(`sandbox exited with ${code}`)));
	});
	const stopOnExit = () => child.kill('SIGKILL');
	process.once('exit', stopOnExit);

	const control = async (method, p, body) => {
		const res = await httpRequest(method, `${ready.url}/__sandbox${p}`, { json: body || undefined });
		// The control API answers JSON objects only: a string body is text that was not JSON.
		if (res.status < 200 || res.status > 299 || res.body === null || typeof res.body === 'string') {
			throw new Error(`sandbox ${method} ${p}: ${res.status} ${res.text.slice(0, 2000)}`);
		}
		return res.body;
	};
	return {
		url: ready.url,
		port: ready.port,
		token: TOKEN,
		pid: child.pid,
		control,
		setOptions: (partial) => control('POST', '/options', partial),
		addFault: (rule) => control('POST', '/faults', rule),
		clearFaults: () => control('DELETE', '/faults'),
		reset: () => control('POST', '/reset'),
		state: () => control('GET', '/state'),
		counts: async () => (await control('GET', '/state')).counts,
		/** Creates a data request directly (as Copernica's API would be called), returns its id. */
		async createDataRequest(email, report) {
			const res = await httpRequest('POST', `${ready.url}/v3/email/${encodeURIComponent(email)}/datarequest?access_token=${TOKEN}`, {
				json: report ? { report } : {},
			});
			const id = res.headers.get('x-created');
			if (!id) throw new Error(`sandbox create answered ${res.status} without X-Created`);
			return id;
		},
		dataUrl: (id) => `${ready.url}/v3/datarequest/${encodeURIComponent(id)}/data?access_token=${TOKEN}`,
		async close() {
			process.removeListener('exit', stopOnExit);
			if (child.exitCode !== null) return;
			child.kill('SIGTERM');
			await new Promise((resolve) => child.once('exit', resolve));
		},
	};
}

/* ------------------------------------------------------------------ n8n */

let tarball;
/**
 * `npm pack` of the package as built (run `npm run build` first; `npm run bench` does), or the
 * tarball named by BENCH_TARBALL (to measure another build, e.g. an earlier commit's).
 */
function packageTarball() {
	if (process.env.BENCH_TARBALL) return path.resolve(process.env.BENCH_TARBALL);
	if (!fs.existsSync(path.join(ROOT, 'dist/nodes/Copernica/CopernicaDataRequest.node.js'))) {
		throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
	}
	tarball ??= packPackage(ROOT);
	return tarball;
}

let probe;
/** `npm pack` of bench/fixtures/n8n-nodes-bench-probe (the binary store probe, never published). */
function probeTarball() {
	probe ??= packPackage(path.join(__dirname, 'fixtures/n8n-nodes-bench-probe'));
	return probe;
}

/**
 * Real n8n with the packed package and a credential (id CREDENTIAL_ID) pointing at the sandbox;
 * `moreSandboxes` ({ credentialId: sandbox }) adds a credential for each further sandbox; `probe`
 * also loads the binary store probe (bench/fixtures/n8n-nodes-bench-probe); `tarball` loads
 * another build of the package instead of this one.
 */
async function startBenchN8n(sandbox, { major = 2, env = {}, workflows = [], activate = [], binaryDataMode, moreSandboxes = {}, probe = false, tarball: own } = {}) {
	const credential = (id, box) => ({ id, name: id, type: 'copernicaApi', data: { apiVersion: 'v3', accessToken: TOKEN, baseUrl: box.url } });
	const n8n = await startN8n({
		major,
		packageTarball: probe ? [own ?? packageTarball(), probeTarball()] : (own ?? packageTarball()),
		logLevel: 'info',
		binaryDataMode,
		env,
		credentials: [credential(CREDENTIAL_ID, sandbox), ...Object.entries(moreSandboxes).map(([id, box]) => credential(id, box))],
		workflows,
		activate,
	});
	return n8n;
}

/* ------------------------------------------------------------------ memory */

/**
 * Samples the RSS of n8n's process group (main process + task runner) every `intervalMs` until
 * stop(); returns { peak, first, last, samples }. Sampling reads /proc only.
 */
function sampleRss(n8n, intervalMs = 100) {
	const samples = [];
	const take = () => samples.push({ t: Date.now(), rss: n8n.rss().total });
	take();
	const timer = setInterval(take, intervalMs);
	return {
		stop() {
			clearInterval(timer);
			take();
			const values = samples.map((s) => s.rss);
			return { peak: Math.max(...values), first: values[0], last: values[values.length - 1], samples };
		},
	};
}

/** RSS of n8n's process group before a run: the highest of 10 samples over one second. */
async function settledRss(n8n) {
	let highest = 0;
	for (let i = 0; i < 10; i++) {
		highest = Math.max(highest, n8n.rss().total);
		await sleep(100);
	}
	return highest;
}

/** CPU time (ms, user + system) used so far by every process in n8n's process group. */
let clockTicks;
function groupCpuMs(n8n) {
	clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
	let ticks = 0;
	for (const entry of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			// after the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12)
			if (Number(fields[2]) !== n8n.pid) continue;
			ticks += Number(fields[11]) + Number(fields[12]);
		} catch {
			/* process ended while reading */
		}
	}
	return (ticks * 1000) / clockTicks;
}

/** The machine's load average right now (1 minute), to judge how noisy a figure may be. */
const loadAverage = () => Math.round(os.loadavg()[0] * 10) / 10;

/* ------------------------------------------------------------------ running workflows */

/**
 * Runs a workflow manually (as the editor's button does) and reads timings from the execution n8n
 * stored: the whole execution (startedAt..stoppedAt) and each node's own executionTime; also the
 * CPU time n8n's process group used meanwhile and the machine's load average (1 min).
 */
async function runTimed(n8n, workflowId, { timeoutMs = 10 * 60_000 } = {}) {
	const t0 = Date.now();
	const cpu0 = groupCpuMs(n8n);
	const load0 = os.loadavg()[0];
	const run = await n8n.executeWorkflow(workflowId, { timeoutMs });
	const clientMs = Date.now() - t0;
	const cpuMs = groupCpuMs(n8n) - cpu0;
	const load = Math.round(((load0 + os.loadavg()[0]) / 2) * 10) / 10;
	const ex = run.execution;
	const executionMs = new Date(ex.stoppedAt).getTime() - new Date(ex.startedAt).getTime();
	const nodeMs = (name) => run.runData[name]?.[0]?.executionTime;
	return { run, clientMs, executionMs, nodeMs, cpuMs, load };
}

/**
 * One run of a workflow with n8n's memory sampled: runTimed's figures plus the RSS before the run
 * (settled), the peak during it, and the growth between the two.
 */
async function runMeasured(n8n, workflowId) {
	const baseline = await settledRss(n8n);
	const sampler = sampleRss(n8n, 100);
	const timed = await runTimed(n8n, workflowId);
	await sleep(500); // n8n stores the execution after the last node: keep sampling a moment
	const { peak } = sampler.stop();
	return { ...timed, baseline, peak, growth: peak - baseline };
}

/**
 * Bytes of a file in n8n's binary store, from its binary field as n8n recorded it. n8n 1.x writes
 * only fileSize, as text such as "524 MB" (pretty-bytes: powers of 1000, three significant digits,
 * so 1% is added back): good enough to tell a whole file from a cut one.
 */
function binaryBytes(binary) {
	if (!binary) return undefined;
	if (typeof binary.bytes === 'number') return binary.bytes;
	const size = /^([\d.]+)\s*(B|kB|MB|GB)$/.exec(String(binary.fileSize ?? ''));
	return size ? Math.round(Number(size[1]) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[size[2]] * 1.01) : undefined;
}

/** A workflow: Manual Trigger -> nodes in a row. */
function chain(name, nodes) {
	const all = [
		{ id: 'n0', name: 'Manual', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		...nodes.map((n, i) => ({ id: `n${i + 1}`, typeVersion: 1, position: [220 * (i + 1), 0], ...n })),
	];
	const connections = {};
	for (let i = 0; i + 1 < all.length; i++) {
		connections[all[i].name] = { main: [[{ node: all[i + 1].name, type: 'main', index: 0 }]] };
	}
	return { name, nodes: all, connections, settings: { executionOrder: 'v1' } };
}

/** A Code node that makes `count` items { email }. */
function itemsNode(count) {
	return {
		name: 'Items',
		type: 'n8n-nodes-base.code',
		typeVersion: 2,
		parameters: {
			jsCode: `return Array.from({ length: ${count} }, (_, i) => ({ json: { email: \`bench+\${i}@example.com\` } }));`,
		},
	};
}

/** This package's node. */
function copernicaNode(name, parameters, credentialId = CREDENTIAL_ID) {
	return { name, type: NODE_TYPE, parameters, credentials: { copernicaApi: { id: credentialId, name: credentialId } } };
}

/**
 * n8n's HTTP Request node as a user without this package sets it up: the token as the
 * access_token query parameter, the base URL typed in.
 */
function httpRequestNode(name, { method, url, jsonBody, file = false, fullResponse = false, token = TOKEN }) {
	const parameters = {
		method,
		url,
		sendQuery: true,
		queryParameters: { parameters: [{ name: 'access_token', value: token }] },
		options: {},
	};
	if (jsonBody !== undefined) Object.assign(parameters, { sendBody: true, specifyBody: 'json', jsonBody });
	if (file || fullResponse) {
		parameters.options.response = { response: { ...(file ? { responseFormat: 'file' } : {}), ...(fullResponse ? { fullResponse: true } : {}) } };
	}
	return { name, type: 'n8n-nodes-base.httpRequest', typeVersion: HTTP_REQUEST_VERSION, parameters };
}

/**
 * Time of a plain curl download of `url` to a file (the floor for any client), in ms. curl on
 * purpose, not axios: the floor must be a client with no JavaScript in the way.
 */
function curlDownload(url, file, { keep = false } = {}) {
	const out = execFileSync('curl', ['-sS', '-f', '-o', file, '-w', '%{time_total} %{size_download}', url], { encoding: 'utf8' });
	const [seconds, bytes] = out.trim().split(' ').map(Number);
	if (!keep) fs.rmSync(file, { force: true });
	return { ms: Math.round(seconds * 1000), bytes };
}

/* ------------------------------------------------------------------ formatting */

const mb = (bytes) => (bytes === undefined || bytes === null ? '–' : `${Math.round(bytes / MB)}`);
const fixed = (value, digits = 1) => (value === undefined || value === null || Number.isNaN(value) ? '–' : value.toFixed(digits));

/** Rows of a benchmark by implementation and size: the sizes seen, a case's rows, its fastest row. */
function rowsBy(rows) {
	const of = (impl, size) => rows.filter((r) => r.impl === impl && r.sizeMb === size);
	return { sizes: [...new Set(rows.map((r) => r.sizeMb))], of, fastest: (impl, size) => of(impl, size).sort((a, b) => a.ms - b.ms)[0] };
}

function table(header, rows) {
	const line = (cells) => `| ${cells.join(' | ')} |`;
	return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

module.exports = {
	rowsBy,
	runMeasured,
	binaryBytes,
	ROOT,
	TOKEN,
	MB,
	CREDENTIAL_ID,
	NODE_TYPE,
	TRIGGER_TYPE,
	HTTP_REQUEST_VERSION,
	sleep,
	log,
	machine,
	startSandboxProcess,
	packageTarball,
	startBenchN8n,
	sampleRss,
	settledRss,
	groupCpuMs,
	loadAverage,
	runTimed,
	chain,
	itemsNode,
	copernicaNode,
	httpRequestNode,
	curlDownload,
	mb,
	fixed,
	table,
};
