'use strict';
/*
 * n8n in queue mode for the end-to-end tests: its own Postgres and Redis, then n8n as
 * main + N workers + M webhook processors, all with the package installed as a community package.
 *
 *   const { startCluster } = require('./cluster');
 *   const cluster = await startCluster({ major: 2, packageTarball, credentials });
 *   cluster.main                      an N8nInstance (test/e2e/n8n.js): api(), rest(), executions() ...
 *   cluster.workers[i], cluster.webhooks[i]   { kind, pid, port, logFile, logText(), kill(), start() }
 *   cluster.webhookUrl                'http://127.0.0.1:<webhook processor port>' (WEBHOOK_URL)
 *   await cluster.pgDump(file)        pg_dump of n8n's database into a file
 *   await cluster.stop()
 *
 * What it does, in order:
 *  1. Debian's postgresql and redis-server, installed with apt-get when their binaries are missing
 *     (as root only; anyone else gets an error that says what to install);
 *  2. Postgres: initdb into a fresh temp folder owned by the `postgres` user (or `nobody`: Postgres
 *     refuses to run as root), started on a free loopback port as that user. fsync is off: the
 *     database is thrown away after the run;
 *  3. Redis on a free loopback port, no persistence (`--save '' --appendonly no`);
 *  4. n8n main (`n8n start`, through startN8n: it migrates the database, imports the credentials,
 *     sets up the owner and an API key), then the workers (`n8n worker`) and webhook processors
 *     (`n8n webhook`) side by side. All share the user folder (so the package under
 *     .n8n/nodes/node_modules), the encryption key, the database and Redis; each has its own port
 *     and task-runner broker port.
 * Every process runs in its own process group and is registered with n8n.js's kill-on-exit (test
 * process exit, uncaught exception, SIGINT/SIGTERM/SIGHUP), so nothing outlives the test process.
 */
const fs = require('fs');
const os = require('os');
const net = require('net');
const path = require('path');
const crypto = require('crypto');
const { spawn, spawnSync } = require('child_process');
const { startN8n, freePort, trackGroup, untrackGroup, killGroupSync, groupRss, httpRequest } = require('./n8n');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`[cluster] ${msg}\n`);

/* ------------------------------------------------------------ Debian packages */

function postgresBinDir() {
	const root = '/usr/lib/postgresql';
	if (!fs.existsSync(root)) return null;
	const versions = fs
		.readdirSync(root)
		.filter((v) => fs.existsSync(path.join(root, v, 'bin', 'postgres')))
		.sort((a, b) => Number(b) - Number(a));
	return versions.length ? path.join(root, versions[0], 'bin') : null;
}

function redisBin() {
	for (const p of ['/usr/bin/redis-server', '/usr/local/bin/redis-server']) if (fs.existsSync(p)) return p;
	return null;
}

/** Installs postgresql and redis-server from Debian when their binaries are not there. */
function ensureServerBinaries() {
	const missing = [];
	if (!postgresBinDir()) missing.push('postgresql');
	if (!redisBin()) missing.push('redis-server');
	if (!missing.length) return { installed: [] };
	// As root directly; otherwise through passwordless sudo (as on GitHub's runners), or not at all.
	const root = process.getuid() === 0;
	if (!root && spawnSync('sudo', ['-n', 'true']).status !== 0) {
		throw new Error(`queue-mode tests need ${missing.join(' and ')} (Debian: apt-get install -y ${missing.join(' ')}); not root and no sudo, so not installing`);
	}
	log(`installing ${missing.join(', ')} with apt-get`);
	const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
	const run = (args) =>
		root
			? spawnSync('apt-get', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
			: spawnSync('sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
	let r = run(['install', '-y', '--no-install-recommends', ...missing]);
	if (r.status !== 0) {
		// A fresh machine has no package lists yet.
		run(['update']);
		r = run(['install', '-y', '--no-install-recommends', ...missing]);
	}
	if (r.status !== 0 || !postgresBinDir() || !redisBin()) {
		throw new Error(`apt-get install ${missing.join(' ')} failed (${r.status}):\n${(r.stdout + r.stderr).slice(-2000)}`);
	}
	return { installed: missing };
}

/**
 * uid/gid of the user Postgres runs as. Not root: this user itself (null). Root (Postgres refuses
 * it): `postgres` (the Debian package creates it), else `nobody`.
 */
function postgresUser() {
	if (process.getuid() !== 0) return null;
	for (const name of ['postgres', 'nobody']) {
		const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
		const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
		if (uid.status === 0 && gid.status === 0) return { name, uid: Number(uid.stdout), gid: Number(gid.stdout) };
	}
	throw new Error('no postgres or nobody user to run Postgres as');
}

/* ------------------------------------------------------------ processes */

function tcpOpen(port) {
	return new Promise((resolve) => {
		const socket = net.connect(port, '127.0.0.1');
		socket.once('connect', () => socket.end(() => resolve(true)));
		socket.once('error', () => resolve(false));
	});
}

/** CPU seconds (user + system, reaped children included) of every process in a process group. */
function groupCpuSeconds(pgid) {
	const ticks = 100; // USER_HZ on Linux
	let total = 0;
	for (const entry of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
			const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
			if (Number(f[2]) !== pgid) continue;
			// utime, stime, cutime, cstime are fields 14-17 (f[11..14] after the command name)
			total += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / ticks;
		} catch {
			/* ended while reading */
		}
	}
	return total;
}

/** A long-running child in its own process group, output to a log file, killed with the test process. */
class ChildProcess {
	constructor({ kind, command, args, env, logFile, cwd, uid, gid, port, readyUrl }) {
		Object.assign(this, { kind, command, args, env, logFile, cwd, uid, gid, port, readyUrl });
		this.child = null;
		this.starts = 0;
	}

	start() {
		fs.appendFileSync(this.logFile, `\n===== [cluster] ${this.kind} start (${new Date().toISOString()})\n`);
		const fd = fs.openSync(this.logFile, 'a');
		const child = spawn(this.command, this.args, {
			cwd: this.cwd,
			env: this.env,
			detached: true,
			stdio: ['ignore', fd, fd],
			...(this.uid !== undefined ? { uid: this.uid, gid: this.gid } : {}),
		});
		fs.closeSync(fd);
		this.child = child;
		this.pid = child.pid;
		this.starts++;
		this.exitInfo = null;
		trackGroup(child.pid);
		this.exited = new Promise((resolve) => {
			child.once('exit', (code, signal) => {
				untrackGroup(child.pid);
				this.exitInfo = { code, signal };
				resolve(this.exitInfo);
			});
		});
		return this;
	}

	get running() {
		return Boolean(this.child && !this.exitInfo);
	}

	/** Waits until readyUrl answers 200 (or, without one, the port accepts connections). */
	async waitReady(timeoutMs = 180_000) {
		const deadline = Date.now() + timeoutMs;
		while (Date.now() < deadline) {
			if (this.exitInfo) throw new Error(`${this.kind} exited during start (${JSON.stringify(this.exitInfo)}):\n${this.logTail()}`);
			try {
				if (this.readyUrl) {
					const r = await httpRequest('GET', this.readyUrl, { timeoutMs: 5000 });
					if (r.status === 200) return;
				} else if (await tcpOpen(this.port)) return;
			} catch {
				/* not listening yet */
			}
			await sleep(300);
		}
		throw new Error(`${this.kind} not ready after ${timeoutMs} ms:\n${this.logTail()}`);
	}

	/** SIGKILL to the whole group at once: the machine the process ran on is gone. */
	async kill() {
		if (!this.child) return;
		killGroupSync(this.pid, 'SIGKILL');
		await this.exited;
		this.child = null;
	}

	/** Graceful stop (`signal`), then SIGKILL of the group after graceMs. */
	async stop({ signal = 'SIGTERM', graceMs = 25_000 } = {}) {
		if (this.running) {
			try {
				process.kill(this.pid, signal);
			} catch {
				/* gone */
			}
			let timer;
			await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
			clearTimeout(timer);
		}
		if (this.pid) killGroupSync(this.pid);
		if (this.child && !this.exitInfo) await this.exited;
		this.child = null;
	}

	logText() {
		try {
			// eslint-disable-next-line no-control-regex
			return fs.readFileSync(this.logFile, 'utf8').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
		} catch {
			return '';
		}
	}

	logTail(lines = 40) {
		return this.logText().split('\n').slice(-lines).join('\n');
	}

	cpuSeconds() {
		return this.running ? groupCpuSeconds(this.pid) : 0;
	}

	rss() {
		return this.running ? groupRss(this.pid) : { total: 0, processes: [] };
	}
}

/* ------------------------------------------------------------ Postgres, Redis */

async function startPostgres(base) {
	const bin = postgresBinDir();
	const user = postgresUser();
	const dir = path.join(base, 'postgres');
	const dataDir = path.join(dir, 'data');
	fs.mkdirSync(dir, { recursive: true });
	// Postgres refuses to run as root; the folder must be its user's, and its parent reachable.
	if (user) {
		fs.chmodSync(base, 0o755);
		fs.chownSync(dir, user.uid, user.gid);
	}
	const ids = user ? { uid: user.uid, gid: user.gid } : {};
	const asUser = { ...ids, cwd: dir, encoding: 'utf8' };
	const init = spawnSync(path.join(bin, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'], asUser);
	if (init.status !== 0) throw new Error(`initdb failed (${init.status}):\n${init.stdout}${init.stderr}`);
	const port = await freePort();
	const pg = new ChildProcess({
		kind: 'postgres',
		command: path.join(bin, 'postgres'),
		args: ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
			'-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
		env: { PATH: process.env.PATH, LANG: 'C.UTF-8' },
		logFile: path.join(base, 'postgres.log'),
		cwd: dir,
		...ids,
		port,
	});
	pg.start();
	await pg.waitReady(60_000);
	const psqlArgs = ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'];
	for (let attempt = 0; ; attempt++) {
		const r = spawnSync(path.join(bin, 'createdb'), [...psqlArgs, 'n8n'], { encoding: 'utf8' });
		if (r.status === 0) break;
		if (attempt > 50) throw new Error(`createdb failed: ${r.stderr}`);
		await sleep(200); // accepting connections before it accepts logins
	}
	pg.bin = bin;
	pg.user = user ? user.name : os.userInfo().username;
	pg.database = 'n8n';
	pg.psqlArgs = psqlArgs;
	return pg;
}

async function startRedis(base) {
	const port = await freePort();
	const dir = path.join(base, 'redis');
	fs.mkdirSync(dir, { recursive: true });
	const redis = new ChildProcess({
		kind: 'redis',
		command: redisBin(),
		args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
		env: { PATH: process.env.PATH },
		logFile: path.join(base, 'redis.log'),
		cwd: dir,
		port,
	});
	redis.start();
	await redis.waitReady(30_000);
	return redis;
}

/* ------------------------------------------------------------ the cluster */

/**
 * @param {object} o
 * @param {1|2} o.major
 * @param {string|string[]} o.packageTarball   `npm pack` output(s), installed into the shared user folder
 * @param {object[]} [o.credentials]            as for startN8n (plain data, imported before the start)
 * @param {number} [o.workers=2]
 * @param {number} [o.webhookProcessors=1]
 * @param {number} [o.workerConcurrency=10]
 * @param {string} [o.binaryDataMode='database']  N8N_DEFAULT_BINARY_DATA_MODE
 * @param {object} [o.env]                      extra environment for every n8n process
 * @param {string} [o.logLevel='debug']
 */
async function startCluster(o) {
	const opts = { workers: 2, webhookProcessors: 1, workerConcurrency: 10, binaryDataMode: 'database', env: {}, logLevel: 'debug', ...o };
	const t0 = Date.now();
	const timings = {};
	const { installed } = ensureServerBinaries();
	timings.installMs = Date.now() - t0;
	const base = fs.mkdtempSync(path.join(os.tmpdir(), `e2e-cluster${opts.major}-`));
	const cluster = new Cluster(base, opts);
	cluster.installed = installed;
	cluster.timings = timings;
	try {
		cluster.postgres = await startPostgres(base);
		cluster.redis = await startRedis(base);
		timings.databasesMs = Date.now() - t0 - timings.installMs;

		const webhookPorts = [];
		for (let i = 0; i < opts.webhookProcessors; i++) webhookPorts.push(await freePort());
		// The URL n8n gives out for webhooks and resume URLs: the (first) webhook processor, as a
		// load balancer in front of the webhook processors would be in production.
		cluster.webhookUrl = `http://127.0.0.1:${webhookPorts[0]}`;
		const shared = {
			DB_TYPE: 'postgresdb',
			DB_POSTGRESDB_HOST: '127.0.0.1',
			DB_POSTGRESDB_PORT: String(cluster.postgres.port),
			DB_POSTGRESDB_DATABASE: 'n8n',
			DB_POSTGRESDB_USER: 'postgres',
			DB_POSTGRESDB_PASSWORD: '',
			EXECUTIONS_MODE: 'queue',
			QUEUE_BULL_REDIS_HOST: '127.0.0.1',
			QUEUE_BULL_REDIS_PORT: String(cluster.redis.port),
			// Manual runs (the editor's "Execute workflow") go to the workers too, as production ones do.
			OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true',
			N8N_ENCRYPTION_KEY: crypto.randomBytes(24).toString('hex'),
			[opts.major >= 2 ? 'N8N_WEBHOOK_URL' : 'WEBHOOK_URL']: `${cluster.webhookUrl}/`,
			N8N_DEFAULT_BINARY_DATA_MODE: opts.binaryDataMode,
			// 1.x offers the database mode only when it is listed (its default list: filesystem).
			...(opts.major < 2 ? { N8N_AVAILABLE_BINARY_DATA_MODES: 'filesystem,database' } : {}),
			QUEUE_HEALTH_CHECK_ACTIVE: 'true',
			// Production webhooks only on the webhook processors, as behind a load balancer that
			// sends /webhook/ and /webhook-waiting/ there (the main serves the editor and the API).
			N8N_DISABLE_PRODUCTION_MAIN_PROCESS: 'true',
			...opts.env,
		};
		const t1 = Date.now();
		cluster.main = await startN8n({
			major: opts.major,
			packageTarball: opts.packageTarball,
			credentials: opts.credentials || [],
			env: shared,
			logLevel: opts.logLevel,
			baseDir: base,
			keepUserFolder: true, // the cluster removes its whole folder itself
		});
		timings.mainMs = Date.now() - t1;

		const main = cluster.main;
		const t2 = Date.now();
		const n8nProcess = async (kind, args, port) => {
			const health = await freePort();
			const env = {
				...main.env,
				N8N_PORT: String(port),
				N8N_RUNNERS_BROKER_PORT: String(await freePort()),
				QUEUE_HEALTH_CHECK_PORT: String(health),
			};
			return new ChildProcess({
				kind,
				command: main.install.nodeBin,
				args: [main.install.n8nBin, ...args],
				env,
				logFile: path.join(base, `${kind}.log`),
				cwd: main.userFolder,
				port,
				// workers answer on their health-check port, webhook processors on their own
				readyUrl: `http://127.0.0.1:${kind.startsWith('worker') ? health : port}/healthz/readiness`,
			});
		};
		for (let i = 0; i < opts.workers; i++) {
			cluster.workers.push(await n8nProcess(`worker-${i + 1}`, ['worker', `--concurrency=${opts.workerConcurrency}`], await freePort()));
		}
		for (let i = 0; i < opts.webhookProcessors; i++) {
			const w = await n8nProcess(`webhook-${i + 1}`, ['webhook'], webhookPorts[i]);
			w.baseUrl = `http://127.0.0.1:${webhookPorts[i]}`;
			cluster.webhooks.push(w);
		}
		for (const p of cluster.n8nProcesses()) p.start();
		await Promise.all(cluster.n8nProcesses().map((p) => p.waitReady()));
		timings.workersAndWebhooksMs = Date.now() - t2;
		timings.totalMs = Date.now() - t0;
		log(`n8n ${main.version} queue mode up in ${(timings.totalMs / 1000).toFixed(1)} s: main :${main.port}, ` +
			`${cluster.workers.length} workers, webhook processor(s) ${cluster.webhooks.map((w) => `:${w.port}`).join(' ')}, ` +
			`postgres :${cluster.postgres.port}, redis :${cluster.redis.port}${installed.length ? ` (installed ${installed.join(', ')})` : ''}`);
		return cluster;
	} catch (e) {
		const tails = [cluster.main, ...cluster.n8nProcesses(), cluster.postgres, cluster.redis]
			.filter(Boolean)
			.map((p) => `--- ${p.kind || 'main'} (${p.logFile}) ---\n${p.logTail(30)}`)
			.join('\n');
		await cluster.stop({ keep: true });
		e.message += `\n${tails}`;
		throw e;
	}
}

class Cluster {
	constructor(base, opts) {
		this.base = base;
		this.opts = opts;
		this.major = opts.major;
		this.workers = [];
		this.webhooks = [];
	}

	n8nProcesses() {
		return [...this.workers, ...this.webhooks];
	}

	/** Every log file: main, workers, webhook processors, Postgres, Redis. */
	logFiles() {
		return [this.main?.logFile, ...this.n8nProcesses().map((p) => p.logFile), this.postgres?.logFile, this.redis?.logFile].filter(Boolean);
	}

	/** Polls a production webhook URL (CORS preflight, see n8n.js waitForWebhook) until it is served. */
	async waitForWebhook(url, timeoutMs = 60_000) {
		const origin = new URL(url).origin;
		const deadline = Date.now() + timeoutMs;
		let last;
		while (Date.now() < deadline) {
			last = await httpRequest('OPTIONS', url, { headers: { origin, 'access-control-request-method': 'POST' } }).catch((e) => ({ status: e.message }));
			if (last.status === 204) return;
			await sleep(300);
		}
		throw new Error(`webhook ${url} not served after ${timeoutMs} ms (last: ${last.status})`);
	}

	/** Which worker logged that it started this execution: the worker's kind names, in log order. */
	workersThatRan(executionId) {
		const started = new RegExp(`Worker started execution ${executionId} \\(job`);
		return this.workers.filter((w) => started.test(w.logText())).map((w) => w.kind);
	}

	/** `pg_dump` of n8n's database into `file` (plain SQL, data included; `args` e.g. --table=...). Resolves the file. */
	pgDump(file = path.join(this.base, 'n8n.sql'), args = []) {
		return this.toFile('pg_dump', [...this.postgres.psqlArgs, '--no-owner', ...args, this.postgres.database], file);
	}

	/** The rows of one query, as psql's COPY text, into `file`. */
	queryToFile(query, file) {
		return this.toFile('psql', [...this.postgres.psqlArgs, '-d', this.postgres.database, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy (${query}) to stdout`], file);
	}

	toFile(program, args, file) {
		return new Promise((resolve, reject) => {
			const out = fs.openSync(file, 'w');
			const child = spawn(path.join(this.postgres.bin, program), args, {
				stdio: ['ignore', out, 'pipe'],
			});
			let err = '';
			child.stderr.on('data', (d) => (err += d));
			child.once('error', reject);
			child.once('close', (code) => {
				fs.closeSync(out);
				if (code === 0) resolve(file);
				else reject(new Error(`${program} failed (${code}): ${err}`));
			});
		});
	}

	/** CPU seconds used so far by the processes named (default: main, workers, webhook processors). */
	cpuSeconds(processes = [this.main, ...this.n8nProcesses()]) {
		let total = 0;
		for (const p of processes) total += p === this.main ? (p.pid && p.child ? groupCpuSeconds(p.pid) : 0) : p.cpuSeconds();
		return total;
	}

	/** Stops everything: webhook processors and workers, main, Redis, Postgres; then removes the folder. */
	async stop({ keep = false } = {}) {
		await Promise.all(this.n8nProcesses().map((p) => p.stop()));
		if (this.main) await this.main.stop({ keep: true });
		if (this.redis) await this.redis.stop({ graceMs: 5000 });
		// SIGINT: Postgres' fast shutdown (ends the sessions, no waiting for clients).
		if (this.postgres) await this.postgres.stop({ signal: 'SIGINT', graceMs: 10_000 });
		if (!keep && !process.env.E2E_KEEP_CLUSTER) fs.rmSync(this.base, { recursive: true, force: true });
	}
}

/** How often each text occurs in a file, read as a stream (a dump with binary data is large). */
async function countInLargeFile(file, texts) {
	const counts = Object.fromEntries(texts.map((t) => [t, 0]));
	if (!fs.existsSync(file)) return counts;
	const needles = texts.map((t) => Buffer.from(t));
	const keep = Math.max(...needles.map((n) => n.length)) - 1;
	let tail = Buffer.alloc(0);
	for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) {
		const buf = Buffer.concat([tail, chunk]);
		needles.forEach((n, i) => {
			// a match must end after the carried-over tail, so none is counted twice
			for (let at = buf.indexOf(n); at !== -1; at = buf.indexOf(n, at + 1)) if (at + n.length > tail.length) counts[texts[i]]++;
		});
		tail = buf.subarray(Math.max(0, buf.length - keep));
	}
	return counts;
}

module.exports = { startCluster, startPostgres, startRedis, ensureServerBinaries, countInLargeFile, groupCpuSeconds, ChildProcess };
