'use strict';
/*
 * Starts and drives a real n8n process for the end-to-end tests.
 *
 *   const { startN8n, packPackage } = require('./n8n');
 *   const tarball = packPackage('/work/main');                 // `npm pack` of the built package
 *   const n8n = await startN8n({ major: 2, packageTarball: tarball,
 *                                credentials: [...], workflows: [...], activate: ['wfId'] });
 *   await n8n.waitForWebhook('webhook/my-path');
 *   ...
 *   await n8n.stop();
 *
 * What startN8n does, in order:
 *  1. ensureN8n(major) (cached install, see install-n8n.js);
 *  2. a fresh N8N_USER_FOLDER under os.tmpdir() (never under the repository: a community package
 *     resolves `require('n8n-workflow')` by walking up from its own folder first, and would find
 *     the repository's node_modules/n8n-workflow instead of n8n's own copy);
 *  3. the package tarball unpacked into $N8N_USER_FOLDER/.n8n/nodes/node_modules/<name> exactly as
 *     n8n's own community-package installer does it (tar --strip-components=1, dev/peer/optional
 *     dependencies removed from its package.json, the name added to nodes/package.json);
 *  4. `n8n import:credentials`, `n8n import:workflow`, activation of the listed workflows through
 *     the CLI (1.x update:workflow --active=true, 2.x publish:workflow), all before the server starts;
 *  5. `n8n start` in its own process group, stdout+stderr to a log file;
 *  6. waits for /healthz/readiness and for /rest to answer, sets up the owner, logs in (cookie),
 *     creates a public-API key with every scope the owner may have.
 *
 * Everything runs against the n8n versions pinned in test/e2e/n8n-<major>/.
 */
const fs = require('fs');
const os = require('os');
const net = require('net');
const path = require('path');
const crypto = require('crypto');
const { spawn, execFileSync } = require('child_process');
const http = require('http'); // only for httpClient's agent below; requests go through axios
const axios = require('axios');
const { ensureN8n } = require('./install-n8n');

const OWNER = {
	email: 'owner@e2e.example.com',
	firstName: 'E2E',
	lastName: 'Owner',
	password: 'E2e-Owner-Passw0rd',
};

const PORT_MIN = 5600;
const PORT_MAX = 5799;

/* ------------------------------------------------------------ process bookkeeping */

// Every live n8n process group, so that nothing survives the test process (crash, Ctrl-C, jest exit).
const liveGroups = new Set();
let exitHandlersInstalled = false;

function killGroupSync(pid, signal = 'SIGKILL') {
	try {
		process.kill(-pid, signal);
	} catch {
		/* already gone */
	}
}

function installExitHandlers() {
	if (exitHandlersInstalled) return;
	exitHandlersInstalled = true;
	process.on('exit', () => {
		for (const pid of liveGroups) killGroupSync(pid);
	});
	for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
		const handler = () => {
			for (const pid of liveGroups) killGroupSync(pid);
			process.removeListener(sig, handler);
			process.kill(process.pid, sig); // re-raise with the default behaviour
		};
		process.on(sig, handler);
	}
}

/* ------------------------------------------------------------ small helpers */

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* ------------------------------------------------------------ HTTP (axios) */

/**
 * The one HTTP client of the e2e driver, the benchmarks and the demo (axios, the package's test
 * client): every status is returned, none thrown (callers judge it); redirects are not followed
 * (a 3xx comes back as it is); no proxy from the environment (everything here is 127.0.0.1); the
 * body comes back as text (callers or httpRequest parse it), or as a stream with
 * `responseType: 'stream'`.
 */
const httpClient = axios.create({
	headers: { common: { accept: '*/*' } },
	validateStatus: () => true,
	maxRedirects: 0,
	proxy: false,
	// Idle kept-alive sockets are dropped after 4 s (undici, behind fetch, does the same), before a server's usual 5 s
	// keep-alive timeout, so that a request is not sent on a socket the server is just closing.
	httpAgent: new http.Agent({ keepAlive: true, scheduling: 'lifo', timeout: 4000 }),
	responseType: 'text',
	transformResponse: [(data) => data],
});

/** axios' response headers as a WHATWG Headers object (get() case-insensitive, getSetCookie()). */
function toHeaders(axiosHeaders) {
	const out = new Headers();
	const plain = typeof axiosHeaders?.toJSON === 'function' ? axiosHeaders.toJSON() : axiosHeaders || {};
	for (const [name, value] of Object.entries(plain)) {
		for (const one of [].concat(value)) {
			if (one === undefined || one === null) continue;
			try {
				out.append(name, String(one));
			} catch {
				/* a value Headers refuses: left out */
			}
		}
	}
	return out;
}

/**
 * One HTTP request through httpClient. `json`: sent as JSON (content-type set unless given);
 * `data`: sent as it is (string, Buffer or a readable stream, for uploads that must not be held in
 * memory); `timeoutMs`: for the whole exchange. Resolves `{ status, headers, body, text }` (body:
 * parsed JSON, else the text, null when empty); with `responseType: 'stream'`
 * `{ status, headers, stream }` (read or destroy the stream). Rejects only when no answer came
 * (connection refused or reset, timeout): error.code is then e.g. 'ECONNRESET', 'ECONNREFUSED'.
 */
async function httpRequest(method, url, { json, data, headers = {}, timeoutMs = 60_000, responseType = 'text' } = {}) {
	const h = { ...headers };
	const hasContentType = Object.keys(h).some((k) => k.toLowerCase() === 'content-type');
	let payload = data;
	if (json !== undefined) {
		payload = JSON.stringify(json);
		if (!hasContentType) h['content-type'] = 'application/json';
	} else if (payload === undefined && !hasContentType) {
		h['content-type'] = false; // axios would label an empty POST as a form
	}
	const res = await httpClient.request({
		method,
		url,
		headers: h,
		data: payload,
		responseType,
		signal: AbortSignal.timeout(timeoutMs),
	});
	const out = { status: res.status, headers: toHeaders(res.headers) };
	if (responseType === 'stream') return { ...out, stream: res.data };
	const text = typeof res.data === 'string' ? res.data : res.data === undefined || res.data === null ? '' : String(res.data);
	let body = text;
	try {
		body = text ? JSON.parse(text) : null;
	} catch {
		/* not JSON */
	}
	return { ...out, body, text };
}

/** 16 letters/digits, the id format n8n uses for workflows and credentials. */
function n8nId() {
	const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
	return Array.from(crypto.randomBytes(16), (b) => abc[b % abc.length]).join('');
}

const reservedPorts = new Set();

function portIsFree(port) {
	return new Promise((resolve) => {
		const srv = net.createServer();
		srv.once('error', () => resolve(false));
		srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
	});
}

/** A free port in 5600-5799 (the range the e2e suite may use), starting at a random offset. */
async function freePort() {
	const span = PORT_MAX - PORT_MIN + 1;
	const start = crypto.randomInt(span);
	for (let i = 0; i < span; i++) {
		const port = PORT_MIN + ((start + i) % span);
		if (reservedPorts.has(port)) continue;
		if (await portIsFree(port)) {
			reservedPorts.add(port);
			return port;
		}
	}
	throw new Error(`no free port in ${PORT_MIN}-${PORT_MAX}`);
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

/** Resident memory (bytes) of every process in a process group (n8n main + task runner). */
function groupRss(pgid) {
	const out = { total: 0, processes: [] };
	for (const entry of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
			// pgrp is the 5th field; the command name (2nd) is in parentheses and may contain spaces
			const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			if (Number(fields[2]) !== pgid) continue;
			const status = fs.readFileSync(`/proc/${entry}/status`, 'utf8');
			const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] || 0) * 1024;
			const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
			out.total += rss;
			out.processes.push({ pid: Number(entry), rss, cmd: cmd.slice(0, 3).join(' ') });
		} catch {
			/* process ended while reading */
		}
	}
	return out;
}

/**
 * `npm pack` of a package folder; returns the tarball's path. The tarball holds exactly what a
 * user would download (the `files` list), which is the point: a file missing from `files` fails.
 */
function packPackage(packageDir, destDir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-pack-'))) {
	const out = execFileSync(
		'npm',
		['pack', '--json', '--ignore-scripts', '--pack-destination', destDir],
		{ cwd: packageDir, encoding: 'utf8' },
	);
	const info = JSON.parse(out)[0];
	return path.join(destDir, info.filename);
}

/**
 * Unpacks a tarball into <nodesDir>/node_modules/<name> the way n8n's CommunityPackagesService
 * (downloadPackage) does it. No `npm install` is needed after that: the package has no runtime
 * dependencies, and its peer dependency n8n-workflow must come from n8n itself (n8n puts its own
 * module paths on NODE_PATH before loading packages; see the report in test/e2e/README.md).
 */
function installTarball(nodesDir, tarball) {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-unpack-'));
	execFileSync('tar', ['-xzf', tarball, '-C', tmp, '--strip-components=1']);
	const pkgPath = path.join(tmp, 'package.json');
	const pkg = JSON.parse(fs.readFileSync(pkgPath, 'utf8'));
	// n8n strips these before its `npm install` in the package folder.
	const { devDependencies, peerDependencies, optionalDependencies, ...kept } = pkg;
	fs.writeFileSync(pkgPath, JSON.stringify(kept, null, 2));
	const target = path.join(nodesDir, 'node_modules', ...pkg.name.split('/'));
	fs.mkdirSync(path.dirname(target), { recursive: true });
	fs.rmSync(target, { recursive: true, force: true });
	fs.renameSync(tmp, target);
	// nodes/package.json, as n8n keeps it (it lists installed community packages).
	const nodesPkgPath = path.join(nodesDir, 'package.json');
	let nodesPkg = { name: 'installed-nodes', private: true, dependencies: {} };
	if (fs.existsSync(nodesPkgPath)) nodesPkg = JSON.parse(fs.readFileSync(nodesPkgPath, 'utf8'));
	nodesPkg.dependencies = { ...(nodesPkg.dependencies || {}), [pkg.name]: pkg.version };
	fs.writeFileSync(nodesPkgPath, JSON.stringify(nodesPkg, null, 2));
	return { name: pkg.name, version: pkg.version, dir: target };
}

/* ------------------------------------------------------------ environment */

/**
 * The environment n8n runs with: the parent's environment without any N8N_*, DB_*, EXECUTIONS_*,
 * QUEUE_*, JEST_*, WEBHOOK_URL, NODE_ENV, NODE_OPTIONS or NODE_PATH (nothing from the developer's
 * shell or the test runner leaks in; NODE_ENV stays unset, as for a user who runs `npx n8n`), then
 * the install's PATH, then the defaults below, then `extra` (tests may override anything).
 */
function buildEnv(install, o) {
	const env = {};
	for (const [k, v] of Object.entries(process.env)) {
		// NODE_ENV matters most: jest sets NODE_ENV=test, and n8n with NODE_ENV=test refuses to load
		// nodes ("Not available in tests") and exits 1 at start without a word in its log.
		if (/^(N8N_|DB_|EXECUTIONS_|QUEUE_|JEST_|GENERIC_TIMEZONE$|WEBHOOK_URL$|NODE_ENV$|NODE_OPTIONS$|NODE_PATH$)/.test(k)) {
			continue;
		}
		env[k] = v;
	}
	Object.assign(env, install.env, {
		N8N_USER_FOLDER: o.userFolder,
		N8N_PORT: String(o.port),
		N8N_LISTEN_ADDRESS: '127.0.0.1',
		N8N_HOST: '127.0.0.1',
		N8N_PROTOCOL: 'http',
		// The URL n8n gives to trigger nodes (webhookMethods.create registers it remotely).
		// 2.x renamed WEBHOOK_URL (still read, with a deprecation warning) to N8N_WEBHOOK_URL.
		[install.major >= 2 ? 'N8N_WEBHOOK_URL' : 'WEBHOOK_URL']: `http://127.0.0.1:${o.port}/`,
		N8N_RUNNERS_BROKER_PORT: String(o.brokerPort),
		DB_TYPE: 'sqlite',
		N8N_ENCRYPTION_KEY: o.encryptionKey,
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_HIRING_BANNER_ENABLED: 'false',
		N8N_SECURE_COOKIE: 'false',
		N8N_PUBLIC_API_DISABLED: 'false',
		N8N_PUBLIC_API_SWAGGERUI_DISABLED: 'true',
		N8N_DISABLE_UI: o.ui ? 'false' : 'true',
		N8N_LOG_LEVEL: o.logLevel,
		N8N_LOG_OUTPUT: 'console',
		// 1.x only: task runners for the Code node and a pooled (WAL) SQLite with 3 readers, which
		// are 2.x's defaults (1.123 warns that its old defaults are deprecated; 2.x warns that
		// N8N_RUNNERS_ENABLED is no longer needed).
		...(install.major < 2 ? { N8N_RUNNERS_ENABLED: 'true', DB_SQLITE_POOL_SIZE: '3' } : {}),
		// The config file n8n writes into the user folder; silences the permissions warning.
		N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
		// Keep an error visible at once instead of n8n retrying for minutes.
		N8N_GRACEFUL_SHUTDOWN_TIMEOUT: '20',
		NO_COLOR: '1',
		TZ: 'UTC',
		GENERIC_TIMEZONE: 'UTC',
		...(o.binaryDataMode ? { N8N_DEFAULT_BINARY_DATA_MODE: o.binaryDataMode } : {}),
		...o.extraEnv,
	});
	return env;
}

/* ------------------------------------------------------------ startN8n */

/**
 * @param {object} options
 * @param {1|2|'1'|'2'} options.major              n8n major version to run
 * @param {string|string[]} [options.packageTarball] `npm pack` output(s) to load as community packages
 * @param {number} [options.port]                    HTTP port (default: a free one in 5600-5799)
 * @param {number} [options.brokerPort]              task-runner broker port (default: a free one)
 * @param {object} [options.env]                     extra/overriding environment for n8n
 * @param {object[]} [options.credentials]           [{ id?, name, type, data: {plain fields} }]
 * @param {object[]} [options.workflows]             workflow JSON objects ({ id?, name, nodes, connections, ... })
 * @param {string[]} [options.activate]              ids of workflows to activate before start
 * @param {string} [options.binaryDataMode]          'filesystem' | 'default' (N8N_DEFAULT_BINARY_DATA_MODE)
 * @param {string} [options.logLevel='debug']        N8N_LOG_LEVEL
 * @param {boolean} [options.ui=false]               serve the editor UI (N8N_DISABLE_UI=false)
 * @param {number} [options.readyTimeoutMs=120000]
 * @param {string} [options.baseDir]                 where the temp user folder goes (default os.tmpdir())
 * @param {boolean} [options.keepUserFolder]         keep the folder after stop() (default: keep on failure only)
 */
async function startN8n(options) {
	const o = {
		logLevel: 'debug',
		ui: false,
		readyTimeoutMs: 120_000,
		credentials: [],
		workflows: [],
		activate: [],
		env: {},
		...options,
	};
	const install = ensureN8n(o.major);
	const base = fs.mkdtempSync(path.join(o.baseDir || os.tmpdir(), `e2e-n8n${install.major}-`));
	const userFolder = path.join(base, 'user');
	const n8nDir = path.join(userFolder, '.n8n');
	const nodesDir = path.join(n8nDir, 'nodes');
	fs.mkdirSync(nodesDir, { recursive: true });

	const inst = new N8nInstance({
		install,
		base,
		userFolder,
		n8nDir,
		logFile: path.join(base, 'n8n.log'),
		port: o.port || (await freePort()),
		brokerPort: o.brokerPort || (await freePort()),
		// The CLI commands (import, execute) get their own broker port: `n8n execute` starts a
		// task runner broker too, and would collide with the server's.
		cliBrokerPort: await freePort(),
		encryptionKey: o.env.N8N_ENCRYPTION_KEY || crypto.randomBytes(24).toString('hex'),
		options: o,
	});
	installExitHandlers();

	try {
		const tarballs = [].concat(o.packageTarball || []);
		for (const t of tarballs) inst.packages.push(installTarball(nodesDir, t));

		const t0 = Date.now();
		// The imported lists, with the ids filled in, stay on the instance for the test to use.
		if (o.credentials.length) inst.credentials = await inst.importCredentials(o.credentials);
		if (o.workflows.length) inst.workflows = await inst.importWorkflows(o.workflows);
		for (const id of o.activate) await inst.activateOffline(id);
		inst.timings.prepareMs = Date.now() - t0;

		await inst.start();
		return inst;
	} catch (e) {
		await inst.stop({ keep: true });
		e.message += `\n--- n8n log tail (${inst.logFile}) ---\n${inst.logTail(60)}`;
		throw e;
	}
}

class N8nInstance {
	constructor(f) {
		Object.assign(this, f);
		this.major = f.install.major;
		this.version = f.install.version;
		this.baseUrl = `http://127.0.0.1:${f.port}`;
		this.dbPath = path.join(f.n8nDir, 'database.sqlite');
		this.packages = []; // [{ name, version, dir }] unpacked into nodes/node_modules
		this.credentials = []; // imported credentials (ids filled in)
		this.workflows = []; // imported workflows (ids filled in)
		this.timings = {};
		this.child = null;
		this.cookie = null;
		this.apiKey = null;
		this.owner = { ...OWNER };
		this.env = buildEnv(f.install, {
			...f.options,
			userFolder: f.userFolder,
			port: f.port,
			brokerPort: f.brokerPort,
			encryptionKey: f.encryptionKey,
			extraEnv: f.options.env,
		});
		this.cliEnv = { ...this.env, N8N_RUNNERS_BROKER_PORT: String(f.cliBrokerPort) };
	}

	/* ---------------- CLI (runs while the server is stopped, or for read-mostly commands) */

	/**
	 * Runs `n8n <args>` to completion with the instance's environment; resolves { code, signal,
	 * stdout, stderr, ms }. Output is also appended to the log file. Never rejects on a non-zero exit.
	 * Asynchronous on purpose: a synchronous child (spawnSync) would freeze this process's event loop,
	 * so an HTTP sandbox served from the test process could not answer n8n, and kept-alive sockets
	 * to n8n would go stale unnoticed ("other side closed" on the next request).
	 */
	cli(args, { timeoutMs = 180_000, env = {} } = {}) {
		const t0 = Date.now();
		return new Promise((resolve, reject) => {
			const child = spawn(this.install.nodeBin, [this.install.n8nBin, ...args], {
				cwd: this.userFolder,
				env: { ...this.cliEnv, ...env },
				detached: true, // own process group, killed with its task runner on timeout / exit
				stdio: ['ignore', 'pipe', 'pipe'],
			});
			liveGroups.add(child.pid);
			const out = [];
			const err = [];
			child.stdout.on('data', (d) => out.push(d));
			child.stderr.on('data', (d) => err.push(d));
			const timer = setTimeout(() => killGroupSync(child.pid), timeoutMs);
			child.once('error', (e) => {
				clearTimeout(timer);
				liveGroups.delete(child.pid);
				reject(e);
			});
			child.once('close', (code, signal) => {
				clearTimeout(timer);
				killGroupSync(child.pid); // a task runner the CLI started and left behind
				liveGroups.delete(child.pid);
				const res = {
					code,
					signal,
					stdout: Buffer.concat(out).toString('utf8'),
					stderr: Buffer.concat(err).toString('utf8'),
					ms: Date.now() - t0,
				};
				fs.appendFileSync(
					this.logFile,
					`\n===== [e2e] n8n ${args.join(' ')} -> ${code ?? signal} in ${res.ms} ms\n${res.stdout}${res.stderr}\n`,
				);
				resolve(res);
			});
		});
	}

	async cliOrThrow(args, opts) {
		const r = await this.cli(args, opts);
		if (r.code !== 0) {
			throw new Error(`n8n ${args.join(' ')} failed (${r.code ?? r.signal}):\n${stripAnsi(r.stdout + r.stderr).slice(-3000)}`);
		}
		return r;
	}

	writeImportFile(name, data) {
		const file = path.join(this.base, `${name}-${Date.now()}.json`);
		fs.writeFileSync(file, JSON.stringify(data, null, 2));
		return file;
	}

	/** `n8n import:credentials` (plain `data`; n8n encrypts it with the instance key). Fills in missing ids. */
	async importCredentials(credentials) {
		const list = credentials.map((c) => ({ id: n8nId(), ...c }));
		await this.cliOrThrow(['import:credentials', `--input=${this.writeImportFile('credentials', list)}`]);
		return list;
	}

	/** `n8n import:workflow` (ids are kept; missing ids, settings and flags are filled in). */
	async importWorkflows(workflows) {
		const list = workflows.map((w) => ({
			id: n8nId(),
			active: false,
			settings: { executionOrder: 'v1' },
			connections: {},
			pinData: {},
			...w,
		}));
		await this.cliOrThrow(['import:workflow', `--input=${this.writeImportFile('workflows', list)}`]);
		return list;
	}

	/** Activates a workflow through the CLI; only while the server is stopped (it reads at start). */
	async activateOffline(id) {
		if (this.major >= 2) await this.cliOrThrow(['publish:workflow', `--id=${id}`]);
		else await this.cliOrThrow(['update:workflow', `--id=${id}`, '--active=true']);
	}

	/**
	 * Runs a workflow through `n8n execute --id=ID --rawOutput` (a separate n8n process against the
	 * same database). Meant for when the server is NOT running; while it runs, prefer
	 * executeWorkflow() (same code path as the editor's "Execute workflow" button).
	 * Judges the printed result, not the exit code: 2.x sometimes segfaults at exit after printing
	 * a complete, successful result. Returns { ok, result (parsed JSON or null), stdout, stderr, code }.
	 */
	async executeWorkflowCli(id, opts = {}) {
		// At N8N_LOG_LEVEL=debug n8n appends log metadata (` { "file": ... }`) to the printed JSON's
		// last line; at info it prints the JSON alone.
		const r = await this.cli(['execute', `--id=${id}`, '--rawOutput'], {
			...opts,
			env: { N8N_LOG_LEVEL: 'info', ...(opts.env || {}) },
		});
		const lines = r.stdout.split('\n');
		const start = lines.indexOf('{');
		let result = null;
		if (start >= 0) {
			// The JSON is printed pretty; take from the `{` line to the matching last `}` line.
			const rest = lines.slice(start).map((l) => l.replace(/^\}\s+\{ "file".*$/, '}'));
			for (let end = rest.length; end > 0; end--) {
				if (rest[end - 1] !== '}') continue; // only lines that can close the top-level object
				try {
					result = JSON.parse(rest.slice(0, end).join('\n'));
					break;
				} catch {
					/* shorter */
				}
			}
		}
		return { ok: !!result && !result.error, result, stdout: r.stdout, stderr: r.stderr, code: r.code, signal: r.signal };
	}

	/* ---------------- the server process */

	async start() {
		if (this.child) throw new Error('already running');
		const t0 = Date.now();
		fs.appendFileSync(this.logFile, `\n===== [e2e] n8n start (${new Date().toISOString()})\n`);
		const fd = fs.openSync(this.logFile, 'a');
		const child = spawn(this.install.nodeBin, [this.install.n8nBin, 'start'], {
			cwd: this.userFolder,
			env: this.env,
			detached: true, // own process group: stop() kills n8n and its task runner together
			stdio: ['ignore', fd, fd],
		});
		fs.closeSync(fd);
		this.child = child;
		this.pid = child.pid;
		liveGroups.add(child.pid);
		this.exited = new Promise((resolve) => {
			child.once('exit', (code, signal) => {
				liveGroups.delete(child.pid);
				this.exitInfo = { code, signal };
				resolve(this.exitInfo);
			});
		});

		await this.waitReady();
		this.timings.startToReadyMs = Date.now() - t0;
		await this.setupOwnerAndLogin();
		if (!this.apiKey) await this.createApiKey();
		this.timings.startToUsableMs = Date.now() - t0;
		return this;
	}

	/** /healthz/readiness 200, then /rest answering (1.x serves /rest a little later). */
	async waitReady() {
		const deadline = Date.now() + this.options.readyTimeoutMs;
		const check = async (p, ok) => {
			while (Date.now() < deadline) {
				if (this.exitInfo) {
					throw new Error(`n8n exited during start (${JSON.stringify(this.exitInfo)})`);
				}
				try {
					const res = await httpRequest('GET', this.baseUrl + p, { timeoutMs: 5000 });
					if (ok(res.status)) return;
				} catch {
					/* not listening yet */
				}
				await sleep(250);
			}
			throw new Error(`n8n not ready after ${this.options.readyTimeoutMs} ms (${p})`);
		};
		await check('/healthz/readiness', (s) => s === 200);
		// /rest answers 404 until its controllers are registered (1.x: a while after readiness).
		// GET /rest/login answers 401 without a cookie once it is served. (/rest/settings is not
		// served at all with N8N_DISABLE_UI=true.)
		await check('/rest/login', (s) => s === 401 || s === 200);
	}

	async setupOwnerAndLogin() {
		if (!this.ownerIsSetUp) {
			const r = await this.rest('POST', '/owner/setup', OWNER, { auth: false, allowError: true });
			// 400 "Instance owner already setup" (e.g. a user folder set up before) is fine.
			if (r.status !== 200 && !/already/i.test(JSON.stringify(r.body))) {
				throw new Error(`owner setup failed: ${r.status} ${JSON.stringify(r.body)}`);
			}
			this.ownerIsSetUp = true;
		}
		await this.login();
	}

	async login() {
		const res = await httpRequest('POST', `${this.baseUrl}/rest/login`, {
			// 1.123 and 2.x take emailOrLdapLoginId; older 1.x took email (both sent, extra is ignored).
			json: { emailOrLdapLoginId: OWNER.email, email: OWNER.email, password: OWNER.password },
		});
		if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
		const cookie = res.headers
			.getSetCookie()
			.map((c) => c.split(';')[0])
			.find((c) => c.startsWith('n8n-auth='));
		if (!cookie) throw new Error('login gave no n8n-auth cookie');
		this.cookie = cookie;
	}

	async createApiKey() {
		const scopes = (await this.rest('GET', '/api-keys/scopes')).body.data;
		const r = await this.rest('POST', '/api-keys', {
			label: `e2e-${Date.now()}`,
			scopes,
			expiresAt: null,
		});
		this.apiKey = r.body.data.rawApiKey;
		if (!this.apiKey) throw new Error(`no rawApiKey in ${JSON.stringify(r.body)}`);
	}

	/**
	 * Stops n8n: SIGTERM to the main process (graceful shutdown: trigger/poller workflows are
	 * stopped, running executions get up to N8N_GRACEFUL_SHUTDOWN_TIMEOUT), then SIGKILL to the
	 * whole process group after `graceMs`. Safe to call twice and after a failed start.
	 *  final (default true): also delete the temp folder (unless keep / options.keepUserFolder) and
	 *    free the ports. Pass final:false to stop the server but keep using the instance (CLI
	 *    commands against its database, then start() again).
	 */
	async stop({ keep = false, graceMs = 30_000, final = true } = {}) {
		if (this.child && !this.exitInfo) {
			try {
				process.kill(this.pid, 'SIGTERM');
			} catch {
				/* gone */
			}
			let timer;
			const timedOut = await Promise.race([
				this.exited.then(() => false),
				new Promise((r) => {
					timer = setTimeout(() => r(true), graceMs);
				}),
			]);
			clearTimeout(timer); // no pending timer left to keep the test process (jest) alive
			if (timedOut) fs.appendFileSync(this.logFile, '\n===== [e2e] n8n did not stop in time: SIGKILL\n');
		}
		if (this.pid) killGroupSync(this.pid); // the task runner and anything else left in the group
		if (this.child && !this.exitInfo) await this.exited;
		this.child = null;
		this.exitInfo = null;
		this.cookie = null;
		if (final) {
			for (const p of [this.port, this.brokerPort, this.cliBrokerPort]) reservedPorts.delete(p);
			if (!keep && !this.options.keepUserFolder) fs.rmSync(this.base, { recursive: true, force: true });
		}
	}

	/** Stops and starts again with the same user folder, database, key and API key. */
	async restart() {
		await this.stop({ final: false });
		await this.start();
		return this;
	}

	/* ---------------- HTTP */

	/**
	 * A JSON request to n8n (a path on baseUrl, or a full URL). Resolves { status, body, text,
	 * headers } (body parsed if JSON; headers a WHATWG Headers); rejects on status >= 400 unless
	 * allowError. Redirects are not followed.
	 */
	async request(method, url, { body, headers = {}, allowError = false, timeoutMs = 60_000 } = {}) {
		const send = () =>
			httpRequest(method, url.startsWith('http') ? url : this.baseUrl + url, {
				json: body,
				headers: { accept: 'application/json', ...headers },
				timeoutMs,
			});
		let out;
		try {
			out = await send();
		} catch (e) {
			// A kept-alive socket the server closed meanwhile: retry once, for reads only.
			if (method !== 'GET' || !['ECONNRESET', 'EPIPE'].includes(e.code)) throw e;
			out = await send();
		}
		if (!allowError && out.status >= 400) {
			throw new Error(`${method} ${url} -> ${out.status} ${out.text.slice(0, 2000)}`);
		}
		return out;
	}

	/** Public API (/api/v1) with the X-N8N-API-KEY header. Returns { status, body, headers, text }. */
	api(method, p, body, opts = {}) {
		return this.request(method, `/api/v1${p}`, {
			...opts,
			body,
			headers: { 'X-N8N-API-KEY': this.apiKey, ...(opts.headers || {}) },
		});
	}

	/** Internal REST (/rest) with the owner's cookie (opts.auth=false: without). Result body is { data }. */
	rest(method, p, body, opts = {}) {
		const { auth = true, ...rest } = opts;
		return this.request(method, `/rest${p}`, {
			...rest,
			body,
			headers: { ...(auth && this.cookie ? { cookie: this.cookie } : {}), ...(opts.headers || {}) },
		});
	}

	/**
	 * Polls a production webhook until n8n has registered it; `p` is the path after the host, e.g.
	 * 'webhook/my-path'. Does not run the workflow: it sends a CORS preflight (OPTIONS with Origin
	 * and Access-Control-Request-Method: requestMethod), which n8n answers from its webhook registry:
	 * 204 once a webhook for that method and path is registered, an error before (500 on 1.123 and
	 * 2.41: the "not registered" error escapes the CORS code; 404 is accepted as "not yet" too). A bare OPTIONS (no Origin) always gets 204, so it proves nothing.
	 * Needed because 2.x registers webhooks asynchronously (a publication outbox) after activation,
	 * and both versions serve /healthz/readiness before the webhooks of active workflows are added.
	 * Pass { method: 'POST' } etc. to poll with a real request instead: done when not 404 (that one
	 * runs the workflow once it is registered).
	 */
	async waitForWebhook(p, { timeoutMs = 60_000, method = 'OPTIONS', requestMethod = 'POST' } = {}) {
		const url = `${this.baseUrl}/${p.replace(/^\//, '')}`;
		const headers =
			method === 'OPTIONS' ? { origin: this.baseUrl, 'access-control-request-method': requestMethod } : {};
		const deadline = Date.now() + timeoutMs;
		let last;
		while (Date.now() < deadline) {
			try {
				const res = await httpRequest(method, url, { headers, timeoutMs: 5000 });
				last = `${res.status} ${res.text.slice(0, 300)}`;
				if (method === 'OPTIONS' ? res.status >= 200 && res.status < 300 : res.status !== 404) {
					return res.status;
				}
			} catch (e) {
				last = e.message;
			}
			await sleep(300);
		}
		throw new Error(`webhook ${url} not registered after ${timeoutMs} ms (last: ${last})`);
	}

	/** All executions of a workflow, with data, newest first (public API, follows pagination). */
	async executions(workflowId, { includeData = true, status } = {}) {
		const all = [];
		let cursor;
		do {
			const q = new URLSearchParams({ workflowId, includeData: String(includeData), limit: '250' });
			if (status) q.set('status', status);
			if (cursor) q.set('cursor', cursor);
			const r = await this.api('GET', `/executions?${q}`);
			all.push(...r.body.data);
			cursor = r.body.nextCursor;
		} while (cursor);
		return all;
	}

	/** One execution with data (public API). */
	async execution(id, { includeData = true } = {}) {
		return (await this.api('GET', `/executions/${id}?includeData=${includeData}`)).body;
	}

	/**
	 * Waits until the workflow has at least n executions that are done (default: finished or in a
	 * final status; pass `done` to also accept e.g. status 'waiting'). Returns them, newest first.
	 */
	async waitForExecutions(workflowId, n = 1, timeoutMs = 60_000, { done = isDone } = {}) {
		const deadline = Date.now() + timeoutMs;
		let list = [];
		while (Date.now() < deadline) {
			list = (await this.executions(workflowId)).filter(done);
			if (list.length >= n) return list;
			await sleep(500);
		}
		throw new Error(
			`workflow ${workflowId}: ${list.length} of ${n} executions done after ${timeoutMs} ms`,
		);
	}

	/**
	 * Runs a workflow manually on the running server, as the editor's "Execute workflow" button does:
	 * POST /rest/workflows/:id/run with the stored workflow and its Manual Trigger as
	 * triggerToStartFrom, then polls the execution through the public API until it is done.
	 * Returns { id, status, execution, runData, error, output(nodeName) -> json items of the node's last run }.
	 * `done` decides when to stop polling (default: a final status; pass e.g.
	 * (e) => e.status === 'waiting' || isDone(e) for a workflow that stops at a Wait node).
	 */
	async executeWorkflow(id, { timeoutMs = 120_000, triggerName, done = isDone } = {}) {
		const wf = (await this.rest('GET', `/workflows/${id}`)).body.data;
		const trigger = triggerName
			? wf.nodes.find((n) => n.name === triggerName)
			: wf.nodes.find((n) => n.type === 'n8n-nodes-base.manualTrigger');
		if (!trigger) throw new Error(`workflow ${id} has no Manual Trigger (pass triggerName)`);
		const r = await this.rest('POST', `/workflows/${id}/run`, {
			workflowData: wf,
			triggerToStartFrom: { name: trigger.name },
		});
		const executionId = r.body.data?.executionId;
		if (!executionId) throw new Error(`run gave no executionId: ${JSON.stringify(r.body)}`);
		const deadline = Date.now() + timeoutMs;
		let ex;
		while (Date.now() < deadline) {
			const res = await this.api('GET', `/executions/${executionId}?includeData=true`, undefined, {
				allowError: true,
			});
			ex = res.status === 200 ? res.body : null;
			if (ex && done(ex)) return describeExecution(ex);
			await sleep(300);
		}
		throw new Error(`execution ${executionId} not done after ${timeoutMs} ms: ${JSON.stringify(ex)?.slice(0, 500)}`);
	}

	/**
	 * Tests a stored credential the way the editor's "Test" button does: reads it back (secrets come
	 * back redacted), POSTs it to /rest/credentials/test, where n8n restores the secrets from the
	 * database and runs the credential type's `test`. Returns { status: 'OK'|'Error', message }.
	 * `data` overrides fields (as if edited in the form before pressing Test).
	 */
	async testCredential(id, data = {}) {
		const c = (await this.rest('GET', `/credentials/${id}?includeData=true`)).body.data;
		const r = await this.rest('POST', '/credentials/test', {
			credentials: { id: c.id, name: c.name, type: c.type, data: { ...(c.data || {}), ...data } },
		});
		return r.body.data;
	}

	/** Activates a workflow on the running server (public API; 2.x publishes it). */
	async activate(id) {
		return (await this.api('POST', `/workflows/${id}/activate`)).body;
	}

	async deactivate(id) {
		return (await this.api('POST', `/workflows/${id}/deactivate`)).body;
	}

	/* ---------------- diagnostics */

	/** The whole log (server start(s) and CLI commands), ANSI codes removed. */
	logText() {
		try {
			return stripAnsi(fs.readFileSync(this.logFile, 'utf8'));
		} catch {
			return '';
		}
	}

	logTail(lines = 40) {
		return this.logText().split('\n').slice(-lines).join('\n');
	}

	/** RSS of n8n's process group right now: { total, processes: [{ pid, rss, cmd }] }. */
	rss() {
		return this.pid && this.child ? groupRss(this.pid) : { total: 0, processes: [] };
	}
}

function isDone(e) {
	return (
		e.finished === true ||
		['success', 'error', 'crashed', 'canceled', 'cancelled'].includes(e.status)
	);
}

/** Adds convenient accessors to an execution read from the public API. */
function describeExecution(ex) {
	const resultData = ex.data?.resultData || {};
	const runData = resultData.runData || {};
	return {
		id: ex.id,
		status: ex.status,
		finished: ex.finished,
		execution: ex,
		runData,
		error: resultData.error,
		lastNodeExecuted: resultData.lastNodeExecuted,
		/** json of the items on output `outputIndex` of the node's last run ([] if it did not run). */
		output(nodeName, outputIndex = 0) {
			const runs = runData[nodeName];
			if (!runs || !runs.length) return [];
			const items = runs[runs.length - 1].data?.main?.[outputIndex] || [];
			return items.map((i) => i.json);
		},
	};
}

/** Counts occurrences of a text in a file, as bytes (the database is binary): for leak checks. */
function countInFile(file, text) {
	if (!fs.existsSync(file)) return 0;
	const haystack = fs.readFileSync(file);
	let count = 0;
	for (let at = haystack.indexOf(text); at !== -1; at = haystack.indexOf(text, at + 1)) count++;
	return count;
}

/** Puts a detached child's process group under the same kill-on-exit as n8n's own (queue-mode cluster). */
function trackGroup(pid) {
	installExitHandlers();
	liveGroups.add(pid);
}

function untrackGroup(pid) {
	liveGroups.delete(pid);
}

module.exports = {
	trackGroup,
	untrackGroup,
	killGroupSync,
	groupRss,
	httpClient,
	httpRequest,
	countInFile,
	startN8n,
	packPackage,
	installTarball,
	freePort,
	n8nId,
	describeExecution,
	isDone,
	OWNER,
	N8nInstance,
};
