'use strict';
/**
 * Local emulator ("sandbox") of Copernica's data request REST API (see shared/copernica-api.md).
 * Plain Node, no dependencies: used in-process by jest and as a separate process (cli.js) by the
 * end-to-end suite, the demo and the benchmarks, which steer it over /__sandbox/ (no token).
 *
 *   const { startSandbox } = require('./test/sandbox');
 *   const sb = await startSandbox({ readyAfterMs: 60000, clockSpeed: 100 });
 *   // point the client at sb.url with token sb.token ... then: await sb.close();
 *
 * The options (DEFAULTS below) can be changed at any time with setOptions(); a data request takes
 * fileSize/readyAfterMs at its creation, everything else is read when it is used.
 */
const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const { EventEmitter } = require('node:events');
const { pipeline, Readable } = require('node:stream');
const { planDataFile } = require('./datafile');
const { Account, parseCondition, compileCondition, pagingOf, page } = require('./account');

const DEFAULTS = {
	port: 0, // 0 = a free port
	token: undefined, // the valid access token; random when not given
	readyAfterMs: 0, // sandbox-clock time from create to "available"
	clockSpeed: 1, // sandbox clock runs this many times real time
	expireAfterMs: Infinity, // sandbox-clock time from "available" to expired
	fileSize: 20000, // bytes (approximate minimum) of the file of a new request
	seed: 1, // file contents and transient faults are deterministic per seed
	idStyle: 'x-created', // how a create answers its id: x-created|x-location|location|json|text|none
	idFormat: 'numeric', // numeric (1, 2, ...) or uuid
	createStatus: 201, // status of a create answer
	statusExtras: true, // status answer carries "available" and "content-type"
	statusRetryAfter: undefined, // seconds: a "pending" status answer carries Retry-After: N
	statusEndpoint: true, // false: /status answers 404 (servers without it)
	dataEndpoint: true, // false: /data answers 404 (old servers: bare form only)
	bareEndpoint: true, // false: the bare GET /datarequest/{id} answers 404 (newer servers without it)
	errorMessages: true, // false: 404/400 answers about a request carry no body (no error message)
	notReadyText: 'Data not available (yet)', // or 'Data not available (yet).' (the other product)
	missingIds: ['999999'], // profile/subprofile ids that do not exist
	emailDataRequest: true, // false: POST /email/{email}/datarequest answers 404 "Unknown method" (accounts without the call)
	invalidTokenStatus: 400,
	reportContentType: 'json', // json | form (JSON in field "data") | text
	signReports: false, // add Digest, Date, X-Copernica-ID, X-Nonce, Signature headers
	signDateOffsetMs: 0, // signed reports: the Date header this far from now (a stale signature)
	signTamper: false, // signed reports: the signature of another text (a forged one)
	signNonce: undefined, // signed reports: this X-Nonce on every post instead of a fresh one (a replay)
	signAccountId: undefined, // signed reports: this X-Copernica-ID instead of the account's id
	reportRetries: 2, // extra attempts after a failed report POST
	reportRetryDelayMs: 200, // real time between attempts
	reportTimeoutMs: 30000,
	mailAttachLimit: 10 * 1024 * 1024, // emailed reports: attached up to this size, else a link
	faults: [], // fault rules, see addFault()
	transientFailureRate: 0, // 0..1: share of API calls that fail with 429/503/reset
	// API v4's token exchange (/authenticate, standing in for https://authenticate.copernica.com)
	authenticateStyle: 'json', // its answer (undocumented): json {access_token} | json-token {token} | text (the raw JWT) | quoted ("<jwt>")
	authenticatePost: true, // false: the POST form answers 405 and only GET /authenticate?access_token= works
	jwtLifetimeMs: 24 * 3600 * 1000, // sandbox-clock time from exchange to the JWT's exp (then 401)
	tokenVersions: 'both', // both | v3 | v4: the API versions the access token may be used with
	tokenRevoked: false, // true: the access token is refused everywhere (JWTs issued before stay valid until exp)
	restrictedTokenMessage: 'Invalid access token', // what a call with a token restricted to the other version gets (undocumented)
	v4IdStyle: 'x-location', // how a v4 create answers its id (documented: 201 with X-location); undefined: as idStyle
	maxConcurrentCalls: Infinity, // API calls answered at once; one more is refused with 429 (a rate limiter in front of the API)
	concurrencyRetryAfter: undefined, // seconds: those 429 answers carry Retry-After: N (none by default)
	v4ListFields: 'as-v3', // as-v3 | data-only: v4 lists answer {start, limit, data} without count and total
	logLimit: 10000, // request log keeps this many newest entries (counts() keeps counting)
	// The account behind the person search calls (account.js): databases, collections, profiles.
	account: undefined, // seed, see account.js; setAccount() replaces it, reset() goes back to this one
	maxLimit: 1000, // lists answer at most this many per page (Copernica: 1000); lower it to force paging
	fieldsCaseSensitive: false, // false: fields[] conditions compare case-insensitively (as MySQL's default collation)
	removedRecordsMatch: false, // true: removed (sub)profiles still match conditions on their former values
	ignoreConditions: false, // true: fields[] is ignored and every record listed (a server that drops the filter)
};
const KINDS = [
	'create', 'status', 'data', 'bare', 'identity', 'authenticate', 'other',
	// the person search calls
	'databases', 'databaseFields', 'collections', 'collectionFields', 'profiles', 'subprofiles', 'profileSubprofiles',
];
const ACCOUNT = {
	id: 4321,
	name: 'sandbox',
	description: 'Copernica sandbox account',
	company: 'Example B.V.',
	customer: { id: 1234, name: 'Example B.V.', email: 'admin@example.com' },
	license: { id: 99, name: 'Enterprise', start: '2024-01-01', end: '2099-12-31' },
};
// Options whose value may arrive over HTTP as the string "Infinity" (JSON has no Infinity).
const INFINITE_KEYS = new Set(['times', 'expireAfterMs', 'readyAfterMs', 'mailAttachLimit', 'jwtLifetimeMs', 'maxConcurrentCalls']);

// API routes below /v3 or /v4: [method, path pattern, kind].
const ROUTES = [
	['POST', /^(email)\/([^/]+)\/datarequest\/?$/, 'create'],
	['POST', /^(profile|subprofile)\/([^/]+)\/datarequest\/?$/, 'create'],
	['GET', /^datarequest\/([^/]+)\/status\/?$/, 'status'],
	['GET', /^datarequest\/([^/]+)\/data\/?$/, 'data'],
	['GET', /^datarequest\/([^/]+)\/?$/, 'bare'],
	['GET', /^identity\/?$/, 'identity'],
	['GET', /^databases\/?$/, 'databases'],
	['GET', /^database\/([^/]+)\/fields\/?$/, 'databaseFields'],
	['GET', /^database\/([^/]+)\/collections\/?$/, 'collections'],
	['GET', /^database\/([^/]+)\/profiles\/?$/, 'profiles'],
	['GET', /^collection\/([^/]+)\/fields\/?$/, 'collectionFields'],
	['GET', /^collection\/([^/]+)\/subprofiles\/?$/, 'subprofiles'],
	['GET', /^profile\/([^/]+)\/subprofiles\/([^/]+)\/?$/, 'profileSubprofiles'],
];
const ACCOUNT_KINDS = new Set(KINDS.slice(KINDS.indexOf('databases')));

function route(method, pathname) {
	if ((method === 'POST' || method === 'GET') && /^\/authenticate\/?$/.test(pathname)) return { kind: 'authenticate', api: true };
	const v = /^\/(v3|v4)\/(.*)$/.exec(pathname);
	if (!v) return { kind: 'other', api: false };
	for (const [m, re, kind] of ROUTES) {
		const match = method === m && re.exec(v[2]);
		if (match) return { kind, api: true, version: v[1], match };
	}
	return { kind: 'other', api: true, version: v[1] };
}

/** The request path with the access_token parameter removed: the log never holds the token. */
function redact(rawUrl) {
	const q = rawUrl.indexOf('?');
	if (q < 0) return rawUrl;
	const kept = rawUrl
		.slice(q + 1)
		.split('&')
		.filter((p) => {
			const name = p.split('=')[0];
			let decoded = name;
			try {
				decoded = decodeURIComponent(name.replace(/\+/g, ' '));
			} catch {
				/* keep the raw name */
			}
			return decoded !== 'access_token';
		});
	return rawUrl.slice(0, q) + (kept.length ? '?' + kept.join('&') : '');
}

/** mulberry32: transient faults repeat exactly for the same seed. */
function prng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

function reviveInfinity(key, value) {
	return INFINITE_KEYS.has(key) && value === 'Infinity' ? Infinity : value;
}
function toJsonSafe(value) {
	return JSON.parse(
		JSON.stringify(value, (k, v) => (v === Infinity ? 'Infinity' : v instanceof RegExp ? String(v) : v)),
	);
}

/** A fault rule with defaults; accepts {match:{...}} or the match members at top level. */
function normalizeRule(rule) {
	if (!rule || typeof rule.type !== 'string') throw new Error('fault rule needs a type');
	const types = ['error', 'invalid-token', 'rate-limit', 'unavailable', 'reset', 'slow', 'hang', 'echo-url', 'cut-off'];
	if (!types.includes(rule.type)) throw new Error(`unknown fault type ${rule.type}`);
	const match = { ...(rule.match || { method: rule.method, path: rule.path, kind: rule.kind }) };
	if (match.pathRegex) match.path = new RegExp(match.pathRegex);
	const times = rule.times === undefined ? 1 : rule.times === 'Infinity' ? Infinity : Number(rule.times);
	return { ...rule, match, times };
}

function ruleMatches(rule, method, pathname, kind) {
	const m = rule.match;
	if (m.method && m.method.toUpperCase() !== method) return false;
	if (m.kind && m.kind !== kind) return false;
	if (m.path instanceof RegExp) return m.path.test(pathname);
	if (m.path) return pathname.includes(m.path);
	return true;
}

function formEncode(s) {
	return encodeURIComponent(s).replace(/%20/g, '+');
}

/** Exact path and query of a URL as given (new URL() would re-encode it). */
function rawTarget(url) {
	let p = /^https?:\/\/[^/?#]*([^#]*)/i.exec(url)[1] || '/';
	if (p[0] === '?') p = '/' + p;
	return p;
}

const isEmail = (s) => /^\S+@[^\s@]+$/.test(s);
const isWebAddress = (s) => /^https?:\/\/[^/?#\s]+/i.test(s);

let signingKey; // generated once per process, only when signed reports are asked for
function getSigningKey(keyId) {
	if (!signingKey) {
		const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
		const der = publicKey.export({ type: 'spki', format: 'der' });
		signingKey = {
			privateKey,
			publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
			dnsTxt: `v=DKIM1; p=${der.toString('base64')}`,
		};
	}
	return { keyId, publicKeyPem: signingKey.publicKeyPem, dnsTxt: signingKey.dnsTxt, privateKey: signingKey.privateKey };
}
const SIGNED_HEADERS = '(request-target) host date content-length content-type x-copernica-id digest x-nonce';

class Sandbox extends EventEmitter {
	constructor(options) {
		super();
		this.initialOptions = { ...DEFAULTS, ...options };
		if (!this.initialOptions.token) this.initialOptions.token = 'sbx-' + crypto.randomBytes(12).toString('hex');
		this.options = { ...this.initialOptions };
		this.faults = (this.options.faults || []).map(normalizeRule);
		this.requests = []; // log: {time, method, path (no token), kind, status, id?, fault?, processed?}
		this.deliveries = []; // report POST attempts
		this.outbox = []; // emailed reports
		this.dataRequests = new Map(); // id -> record
		this._counts = Object.fromEntries(KINDS.map((k) => [k, 0]));
		this._load = { inFlight: 0, mostInFlight: 0, refusedOverLimit: 0, answered429: 0 };
		this._nextId = 1; // never reset: an old id must not come back after reset()
		this._jwts = new Map(); // issued JWT -> its exp (ms, sandbox clock)
		this._timers = new Set();
		this._outgoing = new Set();
		this._generation = 0;
		this._random = prng(this.options.seed);
		this._clockBase = Date.now();
		this._realBase = Date.now();
		this.account = new Account(this.options.account);
	}

	get token() {
		return this.options.token;
	}

	/** Sandbox clock (ms): real time times clockSpeed, plus advance(). */
	now() {
		return this._clockBase + (Date.now() - this._realBase) * this.options.clockSpeed;
	}
	advance(ms) {
		this._clockBase += ms;
		this._checkReady();
	}

	setOptions(partial = {}) {
		// Built first: a bad seed throws before any option changes.
		const account = 'account' in partial ? new Account(partial.account) : undefined;
		if ('clockSpeed' in partial) {
			// Re-base so that time already passed keeps its old speed.
			this._clockBase = this.now();
			this._realBase = Date.now();
		}
		Object.assign(this.options, partial);
		if ('faults' in partial) this.faults = (partial.faults || []).map(normalizeRule);
		if ('seed' in partial) this._random = prng(this.options.seed);
		if (account !== undefined) this.account = account;
		this._checkReady();
		return this.options;
	}
	/** Replaces the account (databases, collections, profiles) until reset() or the next call; see account.js. */
	setAccount(spec = {}) {
		const account = new Account(spec); // throws on a bad seed, leaving the old account in place
		this.options.account = spec;
		this.account = account;
		return account.summary();
	}
	addFault(rule) {
		const r = normalizeRule(rule);
		this.faults.push(r);
		return r;
	}
	clearFaults() {
		this.faults = [];
	}
	reset() {
		this._generation++;
		this.options = { ...this.initialOptions };
		this.faults = (this.options.faults || []).map(normalizeRule);
		this.requests.length = 0;
		this.deliveries.length = 0;
		this.outbox.length = 0;
		this.dataRequests.clear();
		for (const k of KINDS) this._counts[k] = 0;
		this._load = { inFlight: this._load.inFlight, mostInFlight: this._load.inFlight, refusedOverLimit: 0, answered429: 0 };
		this.account = new Account(this.options.account);
		this._random = prng(this.options.seed);
		this._clockBase = Date.now();
		this._realBase = Date.now();
		for (const t of this._timers) clearTimeout(t);
		this._timers.clear();
	}
	/** Calls per kind, plus `created`: data requests that were really made (duplicates show here). */
	counts() {
		return { ...this._counts, created: this.dataRequests.size };
	}

	/**
	 * API calls being answered now, the most there were at once, how many were refused with 429
	 * for going over `maxConcurrentCalls`, and all answers of 429 (faults too), since the start or
	 * the last reset.
	 */
	load() {
		const { inFlight, mostInFlight, refusedOverLimit, answered429 } = this._load;
		return { inFlight, mostInFlight, refusedOverLimit, answered429 };
	}

	makeReady(id) {
		const rec = this.dataRequests.get(String(id));
		if (!rec) return false;
		rec.expired = false;
		rec.readyAt = Math.min(rec.readyAt, this.now());
		this._checkReady();
		return true;
	}
	expire(id) {
		const rec = this.dataRequests.get(String(id));
		if (!rec) return false;
		rec.expired = true;
		return true;
	}

	/** Resolves with `deliveries` once it holds n attempts (a retried report counts each attempt). */
	waitForDeliveries(n, timeoutMs = 5000) {
		return new Promise((resolve, reject) => {
			const check = () => {
				if (this.deliveries.length < n) return false;
				this.off('delivery', check);
				clearTimeout(timer);
				resolve(this.deliveries);
				return true;
			};
			const timer = setTimeout(() => {
				this.off('delivery', check);
				reject(new Error(`waitForDeliveries: ${this.deliveries.length} of ${n} after ${timeoutMs} ms`));
			}, timeoutMs);
			this.on('delivery', check);
			check();
		});
	}

	/** Key that signs reports: keyId, publicKeyPem, and dnsTxt (the TXT record Copernica publishes). */
	get signingKey() {
		const { keyId, publicKeyPem, dnsTxt } = getSigningKey(this.options.signKeyId || 'sandbox._domainkey.copernica.com');
		return { keyId, publicKeyPem, dnsTxt };
	}

	/** "pending" | "ready" | "expired" */
	stateOf(rec) {
		if (rec.expired) return 'expired';
		const now = this.now();
		if (now < rec.readyAt) return 'pending';
		if (now >= rec.readyAt + this.options.expireAfterMs) return 'expired';
		return 'ready';
	}
	/** A profile's file holds its fields, interests and subprofiles; a subprofile's its fields (account ids only). */
	_recordOf(rec) {
		const account = this.account;
		if (rec.type === 'profile' && account.profiles.has(rec.target)) {
			const p = account.profiles.get(rec.target);
			const subprofiles = [...account.subprofiles.values()].filter((s) => s.profile === p.ID).map((s) => account.subprofileOut(s));
			return [{ ...account.profileOut(p), subprofiles }];
		}
		if (rec.type === 'subprofile' && account.subprofiles.has(rec.target)) return [account.subprofileOut(account.subprofiles.get(rec.target))];
		return undefined;
	}

	_plan(rec) {
		if (!rec.plan) rec.plan = planDataFile({ size: rec.fileSize, type: rec.type, id: rec.target, seed: this.options.seed, record: this._recordOf(rec) });
		return rec.plan;
	}
	/** Bytes "so far": grows while pending, the file length once ready. */
	_available(rec, state) {
		if (state === 'ready') return this._plan(rec).length;
		if (state !== 'pending') return 0;
		const span = rec.readyAt - rec.createdAt;
		const fraction = span > 0 ? Math.max(0, Math.min(1, (this.now() - rec.createdAt) / span)) : 0;
		return Math.floor(this._plan(rec).length * 0.9 * fraction);
	}

	summary() {
		return [...this.dataRequests.values()].map((r) => {
			const state = this.stateOf(r);
			return {
				id: r.id, type: r.type, target: r.target, report: r.report, state,
				available: this._available(r, state), size: this._plan(r).length, counts: this._plan(r).counts,
				createdAt: new Date(r.createdAt).toISOString(), readyAt: new Date(r.readyAt).toISOString(),
				reported: r.reported,
			};
		});
	}
	state() {
		return toJsonSafe({
			url: this.url,
			now: new Date(this.now()).toISOString(),
			options: { ...this.options, token: undefined, faults: undefined, account: undefined },
			account: this.account.summary(),
			faults: this.faults,
			counts: this.counts(),
			load: this.load(),
			dataRequests: this.summary(),
			deliveries: this.deliveries,
			outbox: this.outbox,
			requests: this.requests.slice(-200),
		});
	}

	// ---------------------------------------------------------------- server

	listen() {
		this.server = http.createServer((req, res) => {
			this._handle(req, res).catch((err) => {
				if (!res.headersSent) this._send(res, null, 500, { error: { message: `sandbox: ${err.message}` } });
				else res.destroy();
			});
		});
		return new Promise((resolve, reject) => {
			this.server.once('error', reject);
			this.server.listen(this.options.port, '127.0.0.1', () => {
				this.port = this.server.address().port;
				this.url = `http://127.0.0.1:${this.port}`;
				// Checks readiness for reports; cheap, and unref'd so it never keeps a process alive.
				this._ticker = setInterval(() => this._checkReady(), 20);
				this._ticker.unref();
				resolve(this);
			});
		});
	}

	async close() {
		if (this._closed) return;
		this._closed = true;
		clearInterval(this._ticker);
		for (const t of this._timers) clearTimeout(t);
		for (const r of this._outgoing) r.destroy();
		await new Promise((resolve) => {
			this.server.close(() => resolve());
			this.server.closeAllConnections(); // also ends 'hang' faults and keep-alive sockets
		});
	}

	_send(res, entry, status, body, headers = {}) {
		if (entry) entry.status = status;
		if (status === 429) this._load.answered429++;
		let text = '';
		if (body !== undefined && body !== null) {
			text = typeof body === 'string' ? body : JSON.stringify(body);
			if (!headers['Content-Type']) headers['Content-Type'] = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
		}
		headers['Content-Length'] = Buffer.byteLength(text);
		res.writeHead(status, headers);
		res.end(text);
	}

	_log(entry) {
		this.emit('request', entry);
		this.requests.push(entry);
		if (this.requests.length > this.options.logLimit) this.requests.splice(0, this.requests.length - this.options.logLimit);
		this._counts[entry.kind]++;
	}

	async _handle(req, res) {
		const raw = req.url;
		const q = raw.indexOf('?');
		const pathname = q < 0 ? raw : raw.slice(0, q);
		const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
		if (pathname.startsWith('/__sandbox/')) return this._control(req, res, pathname);

		const r = route(req.method, pathname);
		const entry = { time: new Date(this.now()).toISOString(), method: req.method, path: redact(raw), kind: r.kind, status: 0 };
		if (r.version) entry.version = r.version;
		this._noteToken(entry, 'url', safeDecode(raw));
		this._noteToken(entry, 'header', JSON.stringify(req.headers));
		this._log(entry);
		if (r.api) {
			// Counted until the answer is sent or the connection goes (a download counts until its end).
			const load = this._load;
			load.inFlight++;
			res.once('close', () => load.inFlight--);
			if (load.inFlight > this.options.maxConcurrentCalls) {
				load.refusedOverLimit++;
				entry.fault = 'concurrency';
				const retryAfter = this.options.concurrencyRetryAfter;
				return this._fault(req, res, entry, { type: 'rate-limit', message: 'Too many concurrent requests', retryAfter });
			}
			load.mostInFlight = Math.max(load.mostInFlight, load.inFlight);
		}

		// Faults first: they stand for the network and load balancers in front of the API.
		let resetAfter = false;
		let cutOffAfter; // bytes of a file answer sent before the connection breaks
		const rule = this.faults.find((f) => f.times > 0 && ruleMatches(f, req.method, pathname, r.kind));
		if (rule) {
			rule.times--;
			if (rule.times <= 0) this.faults.splice(this.faults.indexOf(rule), 1);
			entry.fault = rule.type;
			if (rule.type === 'slow') await delay(rule.delayMs || 1000);
			else if (rule.type === 'reset' && rule.after) resetAfter = true;
			else if (rule.type === 'cut-off') cutOffAfter = rule.afterBytes ?? 1000;
			else return this._fault(req, res, entry, rule);
		} else if (r.api && this.options.transientFailureRate > 0 && this._random() < this.options.transientFailureRate) {
			const type = ['rate-limit', 'unavailable', 'reset'][Math.floor(this._random() * 3)];
			entry.fault = type;
			entry.transient = true;
			// A reset may come after the server did the work: the client cannot tell, so it retries.
			if (type === 'reset' && this._random() < 0.5) resetAfter = true;
			else return this._fault(req, res, entry, { type, status: 503 });
		}

		if (!r.api) return this._send(res, entry, 404, { error: { message: 'Not found' } });
		if (r.kind === 'authenticate') return this._authenticate(req, res, entry);

		const refused = this._refusal(req, query, r.version);
		if (refused) return this._send(res, entry, refused.status, { error: { message: refused.message } });

		let answer;
		switch (r.kind) {
			case 'create':
				answer = await this._create(req, query, r, entry);
				break;
			case 'status':
				answer = this._status(r.match[1], entry);
				break;
			case 'data':
			case 'bare':
				answer = this._data(r.match[1], r.kind, entry);
				break;
			case 'identity':
				answer = { status: 200, body: ACCOUNT };
				break;
			default:
				if (ACCOUNT_KINDS.has(r.kind)) {
					answer = this._accountCall(r, query);
					// v4's paging fields are not documented as v3's: a list may come without total and count.
					if (r.version === 'v4' && this.options.v4ListFields === 'data-only' && answer.body && Array.isArray(answer.body.data)) {
						const { total, count, ...rest } = answer.body;
						answer = { ...answer, body: rest };
					}
					break;
				}
				answer = { status: 404, body: { error: { message: 'Unknown method' } } };
		}
		if (resetAfter) {
			entry.processed = true;
			entry.status = 0;
			return req.socket.destroy();
		}
		if (answer.file) {
			entry.status = 200;
			res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': answer.file.length });
			if (cutOffAfter !== undefined) {
				// A download that breaks off part-way: the headers promise the whole file.
				const head = [];
				let size = 0;
				for (const chunk of answer.file.chunks()) {
					head.push(Buffer.from(chunk));
					size += chunk.length;
					if (size >= cutOffAfter) break;
				}
				return res.write(Buffer.concat(head).subarray(0, cutOffAfter), () => setImmediate(() => req.socket.destroy()));
			}
			// pipeline: pull-based with backpressure, and ends the file stream if the client goes away.
			return pipeline(answer.file.stream(), res, () => {});
		}
		return this._send(res, entry, answer.status, answer.body, answer.headers);
	}

	_fault(req, res, entry, rule) {
		const json = (status, message, headers) => this._send(res, entry, status, { error: { message } }, headers);
		switch (rule.type) {
			case 'error':
				return json(rule.status || 400, rule.message || 'Error');
			case 'invalid-token':
				return json(401, 'Invalid access token');
			case 'rate-limit':
				return json(429, rule.message || 'Too many requests', rule.retryAfter !== undefined ? { 'Retry-After': String(rule.retryAfter) } : {});
			case 'unavailable': {
				const status = rule.status || 503;
				// nginx's wording, as Copernica's load balancer answers
				const nginx = { 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out' };
				const title = `${status} ${nginx[status] || http.STATUS_CODES[status]}`;
				const html = `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
				return this._send(res, entry, status, html, { 'Content-Type': 'text/html' });
			}
			case 'echo-url': {
				// As proxies do: the full URL, access_token included. The client must redact it.
				const status = rule.status || 502;
				const url = `http://${req.headers.host}${req.url}`;
				if (rule.format === 'json') return json(status, `Upstream request failed: ${req.method} ${url}`);
				const html = `<html><head><title>${status} Bad Gateway</title></head><body><h1>Error</h1><p>The upstream server failed while handling ${req.method} ${url}</p></body></html>`;
				return this._send(res, entry, status, html, { 'Content-Type': 'text/html' });
			}
			case 'reset':
				entry.processed = false;
				return req.socket.destroy();
			case 'hang':
				return undefined; // never answered; close() ends the connection
		}
		return undefined;
	}

	/** Where the access token showed up in a request (`url`, `header`, `body`): never the token itself. */
	_noteToken(entry, where, text) {
		if (text && this.token && text.includes(this.token)) (entry.tokenIn ??= []).push(where);
	}
	/** A request body, looked through for the access token. */
	async _readBody(req, entry) {
		const buf = await readBody(req);
		this._noteToken(entry, 'body', safeDecode(buf.toString('utf8')));
		return buf;
	}

	/**
	 * Why an API call is refused, or undefined. v3: `access_token` in the query (or as a Bearer
	 * header, as before). v4: only `Authorization: Bearer <jwt>` with a JWT from the exchange that
	 * has not reached its exp.
	 */
	_refusal(req, query, version) {
		const invalid = { status: this.options.invalidTokenStatus, message: 'Invalid access token' };
		const bearer = (/^Bearer\s+(\S+)/i.exec(req.headers.authorization || '') || [])[1];
		if (version === 'v4') {
			if (bearer === undefined || !this._jwts.has(bearer)) return { status: 401, message: 'Invalid access token' };
			if (this.now() >= this._jwts.get(bearer)) return { status: 401, message: 'Expired access token' };
			return undefined;
		}
		const given = query.get('access_token') || bearer;
		if (given === this.token) {
			if (this.options.tokenRevoked) return invalid;
			if (this.options.tokenVersions === 'v4') return { status: this.options.invalidTokenStatus, message: this.options.restrictedTokenMessage };
			return undefined;
		}
		return this._jwts.has(given) ? undefined : invalid;
	}

	/** A JWT as the exchange gives one (exp after `lifetimeMs` of sandbox clock; negative: already expired). */
	issueJwt(lifetimeMs = this.options.jwtLifetimeMs) {
		const issuedAt = this.now();
		const expiresAt = issuedAt + lifetimeMs;
		const claims = { sub: ACCOUNT.id, iat: Math.floor(issuedAt / 1000), exp: Math.floor(expiresAt / 1000), n: this._jwts.size };
		const jwt = ['eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9', Buffer.from(JSON.stringify(claims)).toString('base64url'), crypto.randomBytes(16).toString('base64url')].join('.');
		this._jwts.set(jwt, Math.floor(expiresAt / 1000) * 1000);
		return jwt;
	}
	/** Every JWT issued so far answers 401 from now on, as if its exp had passed. */
	expireJwts() {
		for (const jwt of this._jwts.keys()) this._jwts.set(jwt, -Infinity);
	}

	async _authenticate(req, res, entry) {
		const raw = await this._readBody(req, entry);
		if (req.method === 'POST' && !this.options.authenticatePost) {
			return this._send(res, entry, 405, { error: { message: 'Method not allowed' } }, { Allow: 'GET' });
		}
		const body = req.method === 'POST' ? parseBody(raw, req.headers['content-type']) : { value: Object.fromEntries(new URL(req.url, 'http://sandbox').searchParams) };
		if (body.error || body.value.access_token !== this.token || this.options.tokenRevoked) {
			return this._send(res, entry, this.options.invalidTokenStatus, { error: { message: 'Invalid access token' } });
		}
		if (this.options.tokenVersions === 'v3') {
			return this._send(res, entry, this.options.invalidTokenStatus, { error: { message: this.options.restrictedTokenMessage } });
		}
		const jwt = this.issueJwt();
		switch (this.options.authenticateStyle) {
			case 'text':
				return this._send(res, entry, 200, jwt);
			case 'quoted':
				return this._send(res, entry, 200, JSON.stringify(jwt), { 'Content-Type': 'application/json' });
			case 'json-token':
				return this._send(res, entry, 200, { token: jwt });
			default:
				return this._send(res, entry, 200, { access_token: jwt, token_type: 'Bearer', expires_in: Math.floor(this.options.jwtLifetimeMs / 1000) });
		}
	}

	async _create(req, query, r, entry) {
		const type = r.match[1];
		let target;
		try {
			target = decodeURIComponent(r.match[2]);
		} catch {
			return { status: 400, body: { error: { message: 'Invalid email address' } } };
		}
		if (type === 'email' && !this.options.emailDataRequest) return this._error(404, 'Unknown method');
		if (type === 'email' && !/^.+@.+$/s.test(target)) return { status: 400, body: { error: { message: 'Invalid email address' } } };
		if (type !== 'email' && (!/^\d+$/.test(target) || this.options.missingIds.map(String).includes(target))) {
			return { status: 400, body: { error: { message: 'No entity with supplied ID' } } };
		}
		const body = parseBody(await this._readBody(req, entry), req.headers['content-type']);
		if (body.error) return { status: 400, body: { error: { message: body.error } } };
		let report = body.value.report !== undefined ? body.value.report : query.get('report');
		if (report === '' || report === null) report = undefined;
		if (report !== undefined && (typeof report !== 'string' || !(isWebAddress(report) || isEmail(report)))) {
			return { status: 400, body: { error: { message: 'Invalid report address' } } };
		}

		const id = this.options.idFormat === 'uuid' ? crypto.randomUUID() : String(this._nextId++);
		const now = this.now();
		this.dataRequests.set(id, {
			id, type, target, report, apiVersion: r.version, createdAt: now, readyAt: now + this.options.readyAfterMs,
			fileSize: this.options.fileSize, expired: false, reported: false, generation: this._generation,
		});
		entry.id = id;
		this._checkReady();

		const status = this.options.createStatus;
		const location = `${this.url}/${r.version}/datarequest/${id}`;
		switch ((r.version === 'v4' && this.options.v4IdStyle) || this.options.idStyle) {
			case 'x-location':
				return { status, headers: { 'X-Location': location } };
			case 'location':
				return { status, headers: { Location: location } };
			case 'json':
				return { status, body: { id } };
			case 'text':
				return { status, body: id };
			case 'none':
				return { status };
			default:
				return { status, headers: { 'X-Created': id } };
		}
	}

	/** An error answer about a request: with its message, or (errorMessages: false) with no body. */
	_error(status, message) {
		return this.options.errorMessages ? { status, body: { error: { message } } } : { status };
	}

	_status(id, entry) {
		entry.id = id;
		if (!this.options.statusEndpoint) return this._error(404, 'Unknown method');
		const rec = this.dataRequests.get(id);
		const state = rec ? this.stateOf(rec) : 'expired';
		const status = { ready: 'available', pending: 'pending', expired: 'not available' }[state];
		const body = { status };
		if (this.options.statusExtras) {
			body.available = rec ? this._available(rec, state) : 0;
			body['content-type'] = 'application/json';
		}
		const retryAfter = this.options.statusRetryAfter;
		if (status === 'pending' && retryAfter !== undefined && retryAfter !== null) {
			return { status: 200, body, headers: { 'Retry-After': String(retryAfter) } };
		}
		return { status: 200, body };
	}

	_data(id, kind, entry) {
		entry.id = id;
		if (kind === 'data' && !this.options.dataEndpoint) return this._error(404, 'Unknown method');
		if (kind === 'bare' && !this.options.bareEndpoint) return this._error(404, 'Unknown method');
		const rec = this.dataRequests.get(id);
		const state = rec ? this.stateOf(rec) : 'unknown';
		if (state === 'ready') return { file: this._plan(rec) };
		if (state === 'pending') {
			return kind === 'data' ? this._error(404, this.options.notReadyText) : { status: 200, body: { data: this.options.notReadyText } };
		}
		const message = state === 'expired' ? 'Data request has expired' : 'Data request does not exist';
		// Without messages, every such answer is a bare 404: nothing in it says whether the id exists.
		return this._error(kind === 'data' || !this.options.errorMessages ? 404 : 400, message);
	}

	// ---------------------------------------------------------------- the account (person search)

	/** The record lists of the search calls, paged; errors as Copernica words them. */
	_accountCall(r, query) {
		const account = this.account;
		const paging = pagingOf(query, this.options.maxLimit);
		const noEntity = { status: 400, body: { error: { message: 'No entity with supplied ID' } } };
		const database = (key) => {
			const text = decodeSegment(key);
			if (account.databases.has(text)) return account.databases.get(text);
			// Copernica takes a database's name in place of its id.
			return [...account.databases.values()].find((d) => d.name === text);
		};
		const collection = (key) => account.collections.get(decodeSegment(key));
		const ok = (list, map) => ({ status: 200, body: page(list, paging, map) });
		switch (r.kind) {
			case 'databases':
				return ok([...account.databases.values()], (d) => account.databaseOut(d));
			case 'databaseFields': {
				const db = database(r.match[1]);
				return db ? ok(db.fields) : noEntity;
			}
			case 'collections': {
				const db = database(r.match[1]);
				return db ? ok(db.collections.map((cid) => account.collections.get(cid)), (c) => account.collectionOut(c)) : noEntity;
			}
			case 'collectionFields': {
				const c = collection(r.match[1]);
				return c ? ok(c.fields) : noEntity;
			}
			case 'profiles': {
				const db = database(r.match[1]);
				if (!db) return noEntity;
				const filter = this._filter(query);
				if (filter.error) return filter.error;
				return ok(account.profilesOf.get(db.ID).filter(filter.test), (p) => account.profileOut(p));
			}
			case 'subprofiles': {
				const c = collection(r.match[1]);
				if (!c) return noEntity;
				const filter = this._filter(query);
				if (filter.error) return filter.error;
				return ok(account.subprofilesOf.get(c.ID).filter(filter.test), (s) => account.subprofileOut(s));
			}
			case 'profileSubprofiles': {
				const profile = account.profiles.get(decodeSegment(r.match[1]));
				const c = collection(r.match[2]);
				if (!profile || !c) return noEntity;
				return ok(account.subprofilesOfProfile.get(`${profile.ID}:${c.ID}`) ?? [], (s) => account.subprofileOut(s));
			}
		}
		return { status: 404, body: { error: { message: 'Unknown method' } } };
	}

	/** The fields[] conditions of a search (all must hold); a condition on a field the list has not matches nothing. */
	_filter(query) {
		const texts = [...query.getAll('fields[]'), ...query.getAll('fields')];
		const tests = [];
		for (const text of texts) {
			const condition = parseCondition(text);
			const test = condition && compileCondition(condition, { caseSensitive: this.options.fieldsCaseSensitive });
			if (!test) return { error: { status: 400, body: { error: { message: `Invalid condition: ${text}` } } } };
			tests.push(test);
		}
		if (this.options.ignoreConditions || tests.length === 0) return { test: () => true };
		return {
			test: (record) => {
				// A removed record's fields are gone; with removedRecordsMatch its former values still count.
				if (record.removed && !this.options.removedRecordsMatch) return false;
				return tests.every((t) => t(record.fields));
			},
		};
	}

	// ---------------------------------------------------------------- reports

	_checkReady() {
		for (const rec of this.dataRequests.values()) {
			if (!rec.report || rec.reported) continue;
			const state = this.stateOf(rec);
			if (state === 'pending') continue;
			rec.reported = state === 'ready' ? 'started' : 'skipped (expired)';
			if (state !== 'ready') continue;
			if (isWebAddress(rec.report)) this._deliver(rec).catch(() => {});
			else {
				const size = this._plan(rec).length;
				const attached = size <= this.options.mailAttachLimit;
				const mail = { to: rec.report, requestId: rec.id, subject: 'Your data request', attached, size, time: new Date().toISOString() };
				if (!attached) mail.downloadLink = `${this.url}/${rec.apiVersion}/datarequest/${rec.id}/data`;
				this.outbox.push(mail);
				rec.reported = 'mailed';
				this.emit('mail', mail);
			}
		}
	}

	async _deliver(rec) {
		const generation = this._generation;
		for (let attempt = 1; attempt <= 1 + this.options.reportRetries; attempt++) {
			const d = await this._post(rec, attempt);
			if (this._closed || generation !== this._generation) return;
			this.deliveries.push(d);
			this.emit('delivery', d);
			if (d.ok) break;
			if (attempt <= this.options.reportRetries) {
				await new Promise((resolve) => {
					const t = setTimeout(() => resolve(this._timers.delete(t)), this.options.reportRetryDelayMs);
					this._timers.add(t);
				});
				if (this._closed || generation !== this._generation) return;
			}
		}
		rec.reported = this.deliveries.some((d) => d.requestId === rec.id && d.ok) ? 'delivered' : 'failed';
	}

	/** Body of a report POST: chunks, length and (when signing) the SHA-256 digest. */
	async _reportBody(rec) {
		const plan = this._plan(rec);
		const form = this.options.reportContentType === 'form';
		const contentType = { form: 'application/x-www-form-urlencoded', text: 'text/plain; charset=utf-8' }[this.options.reportContentType] || 'application/json';
		function* chunks() {
			if (form) yield 'data=';
			for (const c of plan.chunks()) yield form ? formEncode(c) : c;
		}
		let length = plan.length;
		let digest;
		// Form encoding changes the length, and a digest needs the bytes: one extra generating pass.
		if (form || this.options.signReports) {
			const hash = crypto.createHash('sha256');
			length = 0;
			let n = 0;
			for (const c of chunks()) {
				length += Buffer.byteLength(c);
				if (this.options.signReports) hash.update(c);
				// Let the API keep answering while a big file is measured (~4 MB per turn).
				if (++n % 64 === 0) await new Promise(setImmediate);
			}
			if (this.options.signReports) digest = 'SHA-256=' + hash.digest('base64');
		}
		return { contentType, length, digest, stream: () => Readable.from((function* () { for (const c of chunks()) yield Buffer.from(c); })()) };
	}

	async _post(rec, attempt) {
		const url = rec.report;
		const result = { requestId: rec.id, url, attempt, status: null, ok: false, error: null, bytes: 0, contentType: null, signed: false, time: new Date().toISOString() };
		const body = await this._reportBody(rec);
		if (this._closed) return result;
		return new Promise((resolve) => {
			let req;
			try {
				result.bytes = body.length;
				result.contentType = body.contentType;
				const u = new URL(url);
				const path = rawTarget(url);
				const headers = { 'Content-Type': body.contentType, 'Content-Length': body.length, 'User-Agent': 'Copernica-Sandbox/1.0' };
				if (this.options.signReports) {
					const key = getSigningKey(this.options.signKeyId || 'sandbox._domainkey.copernica.com');
					Object.assign(headers, {
						Date: new Date(Date.now() + (this.options.signDateOffsetMs || 0)).toUTCString(),
						'X-Copernica-ID': String(this.options.signAccountId ?? ACCOUNT.id),
						'X-Nonce': this.options.signNonce ?? crypto.randomBytes(16).toString('hex'),
						Digest: body.digest,
					});
					const signed = [
						`(request-target): post ${path}`, `host: ${u.host}`, `date: ${headers.Date}`,
						`content-length: ${body.length}`, `content-type: ${body.contentType}`,
						`x-copernica-id: ${headers['X-Copernica-ID']}`, `digest: ${body.digest}`, `x-nonce: ${headers['X-Nonce']}`,
					].join('\n');
					const signature = crypto.sign('sha256', Buffer.from(this.options.signTamper ? `${signed}x` : signed), key.privateKey).toString('base64');
					headers.Signature = `keyId="${key.keyId}",algorithm="rsa-sha256",headers="${SIGNED_HEADERS}",signature="${signature}"`;
					result.signed = true;
				}
				req = (u.protocol === 'https:' ? https : http).request({
					method: 'POST', hostname: u.hostname.replace(/^\[|\]$/g, ''), port: u.port || undefined, path, headers,
					timeout: this.options.reportTimeoutMs, rejectUnauthorized: false,
				});
			} catch (err) {
				result.error = err.message;
				return resolve(result);
			}
			this._outgoing.add(req);
			let finished = false;
			const done = (err) => {
				if (finished) return;
				finished = true;
				this._outgoing.delete(req);
				if (err && !result.error) result.error = err.message;
				resolve(result);
			};
			req.on('timeout', () => req.destroy(new Error(`timeout after ${this.options.reportTimeoutMs} ms`)));
			req.on('error', done);
			req.on('response', (res) => {
				result.status = res.statusCode;
				result.ok = res.statusCode >= 200 && res.statusCode < 300;
				if (!result.ok) result.error = `HTTP ${res.statusCode}`;
				res.resume();
				res.on('end', () => done());
				res.on('error', done);
			});
			pipeline(body.stream(), req, (err) => err && done(err));
		});
	}

	// ---------------------------------------------------------------- control API

	/**
	 * A DNS-over-HTTPS JSON answer (as dns.google/resolve gives) for the TXT record of the key the
	 * sandbox signs reports with: what a verifier looks up. Other names: NXDOMAIN.
	 */
	_dnsAnswer(params) {
		const name = params.get('name') || '';
		this.dnsLookups = (this.dnsLookups || 0) + 1;
		const key = this.signingKey;
		if (name.toLowerCase() !== key.keyId.toLowerCase() || (params.get('type') || 'TXT').toUpperCase() !== 'TXT') {
			return { Status: 3, Question: [{ name, type: 16 }] };
		}
		// Long TXT records come as several quoted strings of at most 255 characters.
		const chunks = key.dnsTxt.match(/.{1,255}/g).map((c) => `"${c}"`).join(' ');
		return { Status: 0, Question: [{ name, type: 16 }], Answer: [{ name, type: 16, TTL: 300, data: chunks }] };
	}

	async _control(req, res, pathname) {
		const ok = (body) => this._send(res, null, 200, body === undefined ? { ok: true } : body);
		const bad = (status, message) => this._send(res, null, status, { error: { message } });
		const p = pathname.replace(/^\/__sandbox/, '').replace(/\/$/, '');
		let body = {};
		if (req.method === 'POST') {
			const text = (await readBody(req)).toString('utf8');
			try {
				body = text ? JSON.parse(text, reviveInfinity) : {};
			} catch {
				return bad(400, 'body must be JSON');
			}
		}
		try {
			if (req.method === 'GET' && p === '/dns') return ok(this._dnsAnswer(new URL(req.url, 'http://sandbox').searchParams));
			if (req.method === 'GET' && p === '/state') return ok(this.state());
			if (req.method === 'POST' && p === '/options') return ok(toJsonSafe({ ...this.setOptions(body), token: undefined }));
			if (req.method === 'POST' && p === '/faults') return ok(toJsonSafe(this.addFault(body)));
			if (req.method === 'DELETE' && p === '/faults') return ok(this.clearFaults());
			if (req.method === 'POST' && p === '/reset') return ok(this.reset());
			if (req.method === 'POST' && p === '/clock') return ok(this.advance(Number(body.advanceMs) || 0));
			if (req.method === 'POST' && p === '/account') return ok(this.setAccount(body));
			if (req.method === 'GET' && p === '/account') return ok(this.account.summary());
			const m = /^\/requests\/([^/]+)\/(ready|expire)$/.exec(p);
			if (req.method === 'POST' && m) {
				const id = decodeURIComponent(m[1]);
				const found = m[2] === 'ready' ? this.makeReady(id) : this.expire(id);
				return found ? ok() : bad(404, `no data request ${id}`);
			}
		} catch (err) {
			return bad(400, err.message);
		}
		return bad(404, 'unknown control path');
	}
}

/** A path segment as given, decoded (a malformed escape stays as it is). */
function decodeSegment(segment) {
	try {
		return decodeURIComponent(segment);
	} catch {
		return segment;
	}
}

function delay(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function safeDecode(text) {
	try {
		return decodeURIComponent(text.replace(/\+/g, ' '));
	} catch {
		return text;
	}
}

function readBody(req, limit = 1024 * 1024) {
	return new Promise((resolve, reject) => {
		const parts = [];
		let size = 0;
		req.on('data', (c) => {
			size += c.length;
			if (size > limit) {
				reject(new Error('request body too large'));
				req.destroy();
			} else parts.push(c);
		});
		req.on('end', () => resolve(Buffer.concat(parts)));
		req.on('error', reject);
	});
}

/** JSON or form body -> {value} or {error}. */
function parseBody(buf, contentType = '') {
	const text = buf.toString('utf8').trim();
	if (!text) return { value: {} };
	if (/json/i.test(contentType) || (!/urlencoded/i.test(contentType) && text[0] === '{')) {
		try {
			const value = JSON.parse(text);
			return value && typeof value === 'object' ? { value } : { error: 'Invalid JSON body' };
		} catch {
			return { error: 'Invalid JSON body' };
		}
	}
	return { value: Object.fromEntries(new URLSearchParams(text)) };
}

/**
 * Start a sandbox on 127.0.0.1.
 * @param {Partial<typeof DEFAULTS>} [options]
 * @returns {Promise<Sandbox>}
 */
async function startSandbox(options = {}) {
	const sandbox = new Sandbox(options);
	await sandbox.listen();
	return sandbox;
}

module.exports = { startSandbox, Sandbox, DEFAULTS, redact };
