'use strict';
/** Tests of the Copernica sandbox itself (index.js, datafile.js, cli.js). Node's fetch and http only. */
const http = require('node:http');
const crypto = require('node:crypto');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startSandbox, redact } = require('./index');
const { planDataFile, buildDataFile, dataFileText } = require('./datafile');

/** Call the API with the token as query parameter (v3 style). */
function api(sb, p, { method = 'GET', token = sb.token, headers, body, signal } = {}) {
	const sep = p.includes('?') ? '&' : '?';
	const url = token === null ? `${sb.url}${p}` : `${sb.url}${p}${sep}access_token=${encodeURIComponent(token)}`;
	return fetch(url, { method, headers, body, signal });
}
const create = (sb, email, body, opts = {}) =>
	api(sb, `/v3/email/${encodeURIComponent(email)}/datarequest`, {
		method: 'POST',
		headers: body ? { 'Content-Type': 'application/json' } : undefined,
		body: body ? JSON.stringify(body) : undefined,
		...opts,
	});
const control = (sb, p, method = 'GET', body) =>
	fetch(`${sb.url}/__sandbox${p}`, { method, body: body === undefined ? undefined : JSON.stringify(body) }).then((r) => r.json());

/** A local web server that records every request it gets (the report receiver). */
async function startReceiver(answer = () => 200) {
	const received = [];
	const server = http.createServer((req, res) => {
		const parts = [];
		req.on('data', (c) => parts.push(c));
		req.on('end', () => {
			const got = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(parts) };
			received.push(got);
			res.writeHead(answer(got, received.length));
			res.end('ok');
		});
	});
	await new Promise((r) => server.listen(0, '127.0.0.1', r));
	return {
		url: `http://127.0.0.1:${server.address().port}`,
		received,
		close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
	};
}

let sb;
beforeAll(async () => {
	sb = await startSandbox({ token: 'tok-SECRET-123' });
});
afterAll(() => sb.close());
beforeEach(() => sb.reset());

describe('datafile', () => {
	test('length is exact, deterministic, and at least the requested size', () => {
		for (const [size, id] of [[0, 'a@b.c'], [20000, `o'brien+"x"\\@example.com`], [300000, 'jöhn@bücher.de']]) {
			const plan = planDataFile({ size, id });
			const text = dataFileText({ size, id });
			expect(Buffer.byteLength(text)).toBe(plan.length);
			expect(plan.length).toBeGreaterThanOrEqual(size);
			expect(dataFileText({ size, id })).toBe(text);
			const file = JSON.parse(text);
			expect(file.info).toEqual({ type: 'email', id });
			expect(file.data).toHaveLength(4);
			const kinds = file.data.map((g) => g.length);
			expect(kinds).toEqual([plan.counts.message, plan.counts.open, plan.counts.click, plan.counts.survey]);
			expect(file.data[0][0].mime).toContain(`To: <${id}>`);
		}
		expect(dataFileText({ size: 50000, seed: 2 })).not.toBe(dataFileText({ size: 50000, seed: 1 }));
	});

	test('entries are realistic and carry a kind', () => {
		const file = buildDataFile({ size: 60000, type: 'profile', id: '123' });
		expect(file.info).toEqual({ type: 'profile', id: 123 });
		const [messages, opens, clicks, surveys] = file.data;
		const m = messages[1];
		expect(m.kind).toBe('message');
		for (const h of ['From: ', 'To: <subscriber123@example.com>', 'Subject: ', 'Date: ', `Message-ID: ${m.messageId}`, 'MIME-Version: 1.0', 'multipart/alternative', 'text/plain', 'text/html']) {
			expect(m.mime).toContain(h);
		}
		const ids = new Set(messages.map((x) => x.messageId));
		expect(ids.size).toBe(messages.length);
		expect(opens.every((o) => o.kind === 'open' && ids.has(o.messageId) && o.ip && o.userAgent && o.time)).toBe(true);
		expect(clicks.every((c) => c.kind === 'click' && ids.has(c.messageId) && c.url.startsWith('https://'))).toBe(true);
		expect(surveys.every((s) => s.kind === 'survey' && s.surveyId && s.question && s.answer)).toBe(true);
	});
});

describe('create', () => {
	test.each([
		['x-created', (r) => r.headers.get('x-created')],
		['x-location', (r) => r.headers.get('x-location').split('/').pop()],
		['location', (r) => r.headers.get('location').split('/').pop()],
		['json', async (r) => (await r.json()).id],
		['text', (r) => r.text()],
	])('idStyle %s answers the id', async (idStyle, read) => {
		sb.setOptions({ idStyle });
		const res = await create(sb, 'a@example.com');
		expect(res.status).toBe(201);
		const id = await read(res);
		expect(sb.dataRequests.has(id)).toBe(true);
		expect(sb.requests[0]).toMatchObject({ method: 'POST', kind: 'create', status: 201, id });
		if (idStyle.includes('location')) expect(res.headers.get(idStyle)).toBe(`${sb.url}/v3/datarequest/${id}`);
	});

	test('idStyle none gives no id anywhere; idFormat uuid gives uuid strings', async () => {
		sb.setOptions({ idStyle: 'none' });
		const res = await create(sb, 'a@example.com');
		expect(res.status).toBe(201);
		expect(await res.text()).toBe('');
		for (const h of ['x-created', 'x-location', 'location']) expect(res.headers.get(h)).toBeNull();
		expect(sb.counts().created).toBe(1);
		sb.setOptions({ idStyle: 'x-created', idFormat: 'uuid' });
		const id = (await create(sb, 'a@example.com')).headers.get('x-created');
		expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
	});

	test('tricky email addresses arrive exactly', async () => {
		const emails = [
			"o'brien+test@example.com", '100%sure@example.com', 'a/b@example.com', 'hash#tag@example.com',
			'what?@example.com', 'UPPER.Case@Example.COM', 'jöhn.müller@bücher.de', '"quoted name"@example.com',
			'a&b=c;d@example.com', 'space%20not@example.com',
		];
		for (const email of emails) {
			const id = (await create(sb, email)).headers.get('x-created');
			expect(sb.dataRequests.get(id).target).toBe(email);
			const file = await (await api(sb, `/v3/datarequest/${id}/data`)).json();
			expect(file.info).toEqual({ type: 'email', id: email });
			expect(file.data[0][0].mime).toContain(`To: <${email}>`);
		}
		expect(sb.counts().created).toBe(emails.length);
	});

	test('report from JSON body, form body or query; bad report and bad email rejected', async () => {
		await create(sb, 'a@example.com', { report: 'dpo@example.com' });
		await api(sb, '/v3/email/b%40example.com/datarequest', {
			method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'report=https%3A%2F%2Fexample.com%2Fhook%3Fk%3D1',
		});
		await api(sb, '/v3/email/c%40example.com/datarequest?report=q%40example.com', { method: 'POST' });
		expect([...sb.dataRequests.values()].map((r) => r.report)).toEqual(['dpo@example.com', 'https://example.com/hook?k=1', 'q@example.com']);
		const bad = await create(sb, 'd@example.com', { report: 'ftp://x' });
		expect(bad.status).toBe(400);
		expect(await bad.json()).toEqual({ error: { message: 'Invalid report address' } });
		expect((await create(sb, 'no-at-sign')).status).toBe(400);
		const badJson = await api(sb, '/v3/email/e%40example.com/datarequest', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{nope' });
		expect(badJson.status).toBe(400);
	});

	test('profile and subprofile; missing ids answer No entity with supplied ID', async () => {
		for (const type of ['profile', 'subprofile']) {
			const res = await api(sb, `/v3/${type}/42/datarequest`, { method: 'POST' });
			expect(res.status).toBe(201);
			const file = await (await api(sb, `/v3/datarequest/${res.headers.get('x-created')}`)).json();
			expect(file.info).toEqual({ type, id: 42 });
			for (const id of ['999999', 'abc']) {
				const missing = await api(sb, `/v3/${type}/${id}/datarequest`, { method: 'POST' });
				expect(missing.status).toBe(400);
				expect(await missing.json()).toEqual({ error: { message: 'No entity with supplied ID' } });
			}
		}
		sb.setOptions({ missingIds: ['42'] });
		expect((await api(sb, '/v3/profile/42/datarequest', { method: 'POST' })).status).toBe(400);
	});
});

describe('status, data and bare forms', () => {
	test('pending, then available after makeReady', async () => {
		sb.setOptions({ readyAfterMs: 60000 });
		const id = (await create(sb, 'p@example.com')).headers.get('x-created');
		const pending = await (await api(sb, `/v3/datarequest/${id}/status`)).json();
		expect(pending.status).toBe('pending');
		expect(pending['content-type']).toBe('application/json');
		const data = await api(sb, `/v3/datarequest/${id}/data`);
		expect(data.status).toBe(404);
		expect(await data.json()).toEqual({ error: { message: 'Data not available (yet)' } });
		const bare = await api(sb, `/v3/datarequest/${id}`);
		expect(bare.status).toBe(200);
		expect(await bare.json()).toEqual({ data: 'Data not available (yet)' });
		sb.setOptions({ notReadyText: 'Data not available (yet).' });
		expect(await (await api(sb, `/v3/datarequest/${id}`)).json()).toEqual({ data: 'Data not available (yet).' });

		expect(sb.makeReady(id)).toBe(true);
		const ready = await (await api(sb, `/v3/datarequest/${id}/status`)).json();
		expect(ready.status).toBe('available');
		const res = await api(sb, `/v3/datarequest/${id}/data`);
		expect(res.status).toBe(200);
		expect(res.headers.get('content-type')).toBe('application/json');
		const text = await res.text();
		expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
		expect(ready.available).toBe(Buffer.byteLength(text));
		expect(JSON.parse(text).info.id).toBe('p@example.com');
		expect(await (await api(sb, `/v3/datarequest/${id}`)).text()).toBe(text);
		expect(sb.counts()).toMatchObject({ create: 1, status: 2, data: 2, bare: 3 });
	});

	test('available bytes grow while pending, with the sandbox clock; clockSpeed runs that clock faster', async () => {
		sb.setOptions({ readyAfterMs: 10 * 60000 });
		const id = (await create(sb, 'c@example.com')).headers.get('x-created');
		const first = await (await api(sb, `/v3/datarequest/${id}/status`)).json();
		expect(first.status).toBe('pending');
		sb.advance(2 * 60000);
		const second = await (await api(sb, `/v3/datarequest/${id}/status`)).json();
		expect(second.status).toBe('pending');
		expect(second.available).toBeGreaterThan(first.available);
		sb.advance(8 * 60000);
		expect((await (await api(sb, `/v3/datarequest/${id}/status`)).json()).status).toBe('available');
		// clockSpeed: the sandbox clock runs that many times real time (for demos and n8n e2e runs)
		const before = sb.now();
		sb.setOptions({ clockSpeed: 1e6 });
		const realStart = Date.now();
		while (Date.now() === realStart) await new Promise((r) => setImmediate(r));
		expect(sb.now() - before).toBeGreaterThanOrEqual(1e6); // at least 1 real ms has passed
	});

	test('expiry and unknown ids', async () => {
		sb.setOptions({ expireAfterMs: 60000 });
		const id = (await create(sb, 'e@example.com')).headers.get('x-created');
		expect((await api(sb, `/v3/datarequest/${id}/data`)).status).toBe(200);
		sb.advance(60001);
		expect(await (await api(sb, `/v3/datarequest/${id}/status`)).json()).toEqual({ status: 'not available', available: 0, 'content-type': 'application/json' });
		const gone = await api(sb, `/v3/datarequest/${id}/data`);
		expect(gone.status).toBe(404);
		expect((await gone.json()).error.message).toMatch(/expired/);
		expect((await api(sb, `/v3/datarequest/${id}`)).status).toBe(400);
		const id2 = (await create(sb, 'e@example.com')).headers.get('x-created');
		sb.expire(id2);
		expect((await (await api(sb, `/v3/datarequest/${id2}/status`)).json()).status).toBe('not available');

		expect((await (await api(sb, '/v3/datarequest/777/status')).json()).status).toBe('not available');
		const unknown = await api(sb, '/v3/datarequest/777/data');
		expect(unknown.status).toBe(404);
		expect((await unknown.json()).error.message).toMatch(/does not exist/);
		const bare = await api(sb, '/v3/datarequest/777');
		expect(bare.status).toBe(400);
		expect((await bare.json()).error.message).toMatch(/does not exist/);
	});

	test('statusExtras, statusEndpoint and dataEndpoint switches', async () => {
		sb.setOptions({ statusExtras: false, dataEndpoint: false });
		const id = (await create(sb, 's@example.com')).headers.get('x-created');
		expect(await (await api(sb, `/v3/datarequest/${id}/status`)).json()).toEqual({ status: 'available' });
		expect((await api(sb, `/v3/datarequest/${id}/data`)).status).toBe(404);
		expect((await api(sb, `/v3/datarequest/${id}`)).status).toBe(200);
		sb.setOptions({ statusEndpoint: false });
		expect((await api(sb, `/v3/datarequest/${id}/status`)).status).toBe(404);
	});

	test('a 20 MB file streams with an exact Content-Length and parses', async () => {
		sb.setOptions({ fileSize: 20e6 });
		const id = (await create(sb, 'big@example.com')).headers.get('x-created');
		const { length, bytes, text } = await new Promise((resolve, reject) => {
			http.get(`${sb.url}/v3/datarequest/${id}/data?access_token=${sb.token}`, (res) => {
				const parts = [];
				res.on('data', (c) => parts.push(c));
				res.on('end', () => {
					const buf = Buffer.concat(parts);
					resolve({ length: Number(res.headers['content-length']), bytes: buf.length, text: buf.toString('utf8') });
				});
			}).on('error', reject);
		});
		expect(length).toBeGreaterThanOrEqual(20e6);
		expect(bytes).toBe(length);
		const file = JSON.parse(text);
		const counts = {};
		for (const group of file.data) for (const e of group) counts[e.kind] = (counts[e.kind] || 0) + 1;
		expect(counts).toEqual(sb.summary()[0].counts);
	});
});

describe('token', () => {
	test('missing or bad token is refused, and the token never reaches the log', async () => {
		for (const token of [null, 'wrong']) {
			const res = await api(sb, '/v3/identity', { token });
			expect(res.status).toBe(400);
			expect(await res.json()).toEqual({ error: { message: 'Invalid access token' } });
		}
		sb.setOptions({ invalidTokenStatus: 401 });
		expect((await create(sb, 'a@example.com', null, { token: 'wrong' })).status).toBe(401);
		expect(sb.counts().created).toBe(0);
		const identity = await (await api(sb, '/v3/identity')).json();
		expect(identity).toMatchObject({ id: expect.any(Number), name: expect.any(String), company: expect.any(String), customer: expect.any(Object), license: expect.any(Object) });
		// v4 takes only a JWT from the token exchange, never the access token itself
		expect((await fetch(`${sb.url}/v4/identity`, { headers: { Authorization: `Bearer ${sb.token}` } })).status).toBe(401);
		expect((await fetch(`${sb.url}/v4/identity?access_token=${sb.token}`)).status).toBe(401);
		const auth = await fetch(`${sb.url}/authenticate`, { method: 'POST', body: new URLSearchParams({ access_token: sb.token }) });
		const { access_token: jwt } = await auth.json();
		expect((await fetch(`${sb.url}/v4/identity`, { headers: { Authorization: `Bearer ${jwt}` } })).status).toBe(200);
		// a proxy page echoes the token; the sandbox log must still not hold it
		sb.addFault({ match: { kind: 'status' }, type: 'echo-url' });
		expect(await (await api(sb, '/v3/datarequest/1/status?x=1')).text()).toContain('access_token=tok-SECRET-123');
		expect(sb.requests.at(-1).path).toBe('/v3/datarequest/1/status?x=1');
		expect(JSON.stringify(sb.requests)).not.toContain('SECRET');
		expect(JSON.stringify(sb.state())).not.toContain('SECRET');
		expect(redact('/a?access_token=x&b=2&access%5Ftoken=y')).toBe('/a?b=2');
	});
});

describe('API v4 token exchange', () => {
	const exchange = (sandbox, init = {}) =>
		fetch(`${sandbox.url}/authenticate`, { method: 'POST', body: new URLSearchParams({ access_token: sandbox.token }), ...init });
	const v4 = (sandbox, path, jwt) => fetch(`${sandbox.url}/v4${path}`, { headers: { Authorization: `Bearer ${jwt}` } });
	const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));

	test('the JWT carries exp after the lifetime in sandbox clock, counts exchanges, answers 401 once expired', async () => {
		sb.setOptions({ jwtLifetimeMs: 60_000 });
		const before = sb.counts().authenticate;
		const answer = await (await exchange(sb)).json();
		expect(answer).toMatchObject({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 60 });
		const { iat, exp } = claims(answer.access_token);
		expect(exp - iat).toBe(60);
		expect(Math.abs(exp * 1000 - (sb.now() + 60_000))).toBeLessThan(2000);
		expect(sb.counts().authenticate).toBe(before + 1);
		expect((await v4(sb, '/identity', answer.access_token)).status).toBe(200);
		sb.advance(61_000);
		const expired = await v4(sb, '/identity', answer.access_token);
		expect(expired.status).toBe(401);
		expect(await expired.json()).toEqual({ error: { message: 'Expired access token' } });
		const fresh = await (await exchange(sb)).json();
		expect((await v4(sb, '/identity', fresh.access_token)).status).toBe(200);
		sb.expireJwts();
		expect((await v4(sb, '/identity', fresh.access_token)).status).toBe(401);
	});

	test('answer forms, the GET form when POST is refused as a method, revoked and version-restricted tokens', async () => {
		sb.setOptions({ authenticateStyle: 'text' });
		expect(await (await exchange(sb)).text()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
		sb.setOptions({ authenticateStyle: 'quoted' });
		expect(JSON.parse(await (await exchange(sb)).text())).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
		sb.setOptions({ authenticateStyle: 'json-token' });
		expect(Object.keys(await (await exchange(sb)).json())).toEqual(['token']);
		sb.setOptions({ authenticateStyle: 'json', authenticatePost: false });
		expect((await exchange(sb)).status).toBe(405);
		const viaGet = await fetch(`${sb.url}/authenticate?access_token=${encodeURIComponent(sb.token)}`);
		expect(viaGet.status).toBe(200);
		sb.setOptions({ authenticatePost: true, tokenRevoked: true });
		expect(await (await exchange(sb)).json()).toEqual({ error: { message: 'Invalid access token' } });
		expect((await api(sb, '/v3/identity')).status).toBe(400);
		sb.setOptions({ tokenRevoked: false, tokenVersions: 'v3', restrictedTokenMessage: 'Token not valid for REST API v4' });
		expect(await (await exchange(sb)).json()).toEqual({ error: { message: 'Token not valid for REST API v4' } });
		expect((await api(sb, '/v3/identity')).status).toBe(200);
		sb.setOptions({ tokenVersions: 'v4', restrictedTokenMessage: 'Token not valid for REST API v3' });
		expect(await (await api(sb, '/v3/identity')).json()).toEqual({ error: { message: 'Token not valid for REST API v3' } });
		expect((await exchange(sb)).status).toBe(200);
	});

	test('a v4 create answers 201 with X-location; the log says where the token travelled, never the token', async () => {
		const { access_token: jwt } = await (await exchange(sb)).json();
		const res = await fetch(`${sb.url}/v4/email/${encodeURIComponent('v4@example.com')}/datarequest`, {
			method: 'POST',
			headers: { Authorization: `Bearer ${jwt}`, 'Content-Type': 'application/json' },
			body: JSON.stringify({}),
		});
		expect(res.status).toBe(201);
		expect(res.headers.get('x-location')).toMatch(new RegExp(`^${sb.url}/v4/datarequest/\\w+$`));
		const exchangeEntry = sb.requests.find((e) => e.kind === 'authenticate');
		expect(exchangeEntry.tokenIn).toEqual(['body']);
		expect(sb.requests.at(-1)).toMatchObject({ kind: 'create', version: 'v4' });
		expect(sb.requests.at(-1).tokenIn).toBeUndefined();
		await api(sb, '/v3/identity');
		expect(sb.requests.at(-1).tokenIn).toEqual(['url']);
		expect(JSON.stringify(sb.requests)).not.toContain(sb.token);
	});
});

describe('faults', () => {
	test('error, invalid-token, rate-limit, unavailable, echo-url (json)', async () => {
		sb.addFault({ match: { kind: 'identity' }, type: 'error', status: 400, message: 'Quota exceeded' });
		sb.addFault({ match: { kind: 'identity' }, type: 'invalid-token' });
		sb.addFault({ match: { kind: 'identity' }, type: 'rate-limit', retryAfter: 7 });
		sb.addFault({ match: { kind: 'identity' }, type: 'unavailable', status: 504 });
		sb.addFault({ match: { kind: 'identity' }, type: 'echo-url', format: 'json', status: 500 });
		let r = await api(sb, '/v3/identity');
		expect([r.status, await r.json()]).toEqual([400, { error: { message: 'Quota exceeded' } }]);
		r = await api(sb, '/v3/identity');
		expect([r.status, await r.json()]).toEqual([401, { error: { message: 'Invalid access token' } }]);
		r = await api(sb, '/v3/identity');
		expect([r.status, r.headers.get('retry-after')]).toEqual([429, '7']);
		r = await api(sb, '/v3/identity');
		expect(r.status).toBe(504);
		expect(r.headers.get('content-type')).toBe('text/html');
		expect(await r.text()).toContain('504 Gateway Time-out');
		r = await api(sb, '/v3/identity');
		expect(r.status).toBe(500);
		expect((await r.json()).error.message).toContain(`${sb.url}/v3/identity?access_token=${sb.token}`);
		expect((await api(sb, '/v3/identity')).status).toBe(200); // all used up
		expect(sb.requests.map((e) => e.fault)).toEqual(['error', 'invalid-token', 'rate-limit', 'unavailable', 'echo-url', undefined]);
	});

	test('maxConcurrentCalls: a call above N in flight gets 429 at once (Retry-After if set), counted in load()', async () => {
		sb.setOptions({ maxConcurrentCalls: 2, concurrencyRetryAfter: 3 });
		sb.addFault({ match: { kind: 'identity' }, type: 'slow', delayMs: 300, times: 2 });
		const slow = [api(sb, '/v3/identity'), api(sb, '/v3/identity')];
		await new Promise((r) => setTimeout(r, 100)); // both are being answered now
		const refused = await api(sb, '/v3/identity');
		expect([refused.status, refused.headers.get('retry-after'), (await refused.json()).error.message]).toEqual([429, '3', 'Too many concurrent requests']);
		expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
		expect((await api(sb, '/v3/identity')).status).toBe(200); // room again
		expect(sb.load()).toEqual({ inFlight: 0, mostInFlight: 2, refusedOverLimit: 1, answered429: 1 });
		expect((await control(sb, '/state')).load).toEqual(sb.load());
		sb.reset();
		expect(sb.load()).toMatchObject({ mostInFlight: 0, refusedOverLimit: 0 });
	});

	test('matching by method, path substring, RegExp; times and Infinity', async () => {
		sb.addFault({ match: { method: 'post' }, type: 'error', status: 409, times: 2 });
		sb.addFault({ match: { path: /\/datarequest\/\d+\/data$/ }, type: 'error', status: 418, times: Infinity });
		sb.addFault({ match: { path: '/identity' }, type: 'error', status: 400 });
		expect((await api(sb, '/v3/identity')).status).toBe(400);
		expect((await create(sb, 'a@example.com')).status).toBe(409);
		expect((await create(sb, 'a@example.com')).status).toBe(409);
		const id = (await create(sb, 'a@example.com')).headers.get('x-created');
		for (let i = 0; i < 3; i++) expect((await api(sb, `/v3/datarequest/${id}/data`)).status).toBe(418);
		expect((await api(sb, `/v3/datarequest/${id}`)).status).toBe(200);
		sb.clearFaults();
		expect((await api(sb, `/v3/datarequest/${id}/data`)).status).toBe(200);
	});

	test('reset before and after processing a create', async () => {
		sb.addFault({ match: { kind: 'create' }, type: 'reset' });
		await expect(create(sb, 'a@example.com')).rejects.toThrow();
		expect(sb.counts().created).toBe(0);
		sb.addFault({ match: { kind: 'create' }, type: 'reset', after: true });
		await expect(create(sb, 'a@example.com')).rejects.toThrow();
		expect(sb.counts().created).toBe(1);
		expect(sb.requests.map((e) => [e.fault, e.processed, e.status])).toEqual([['reset', false, 0], ['reset', true, 0]]);
	});

	test('slow and hang; close() ends a hanging request', async () => {
		sb.addFault({ match: { kind: 'identity' }, type: 'slow', delayMs: 300 });
		const t0 = Date.now();
		expect((await api(sb, '/v3/identity')).status).toBe(200);
		expect(Date.now() - t0).toBeGreaterThanOrEqual(290);

		sb.addFault({ match: { kind: 'identity' }, type: 'hang' });
		await expect(api(sb, '/v3/identity', { signal: AbortSignal.timeout(200) })).rejects.toThrow();
		const other = await startSandbox({ faults: [{ match: { kind: 'identity' }, type: 'hang' }] });
		const pending = api(other, '/v3/identity');
		// close() must end the hanging request itself: without that, `pending` would never settle.
		while (other.requests.length === 0) await new Promise((r) => setImmediate(r));
		await other.close();
		await expect(pending).rejects.toThrow();
	});

	test('transientFailureRate is seeded and records processed creates', async () => {
		const run = async () => {
			sb.reset();
			sb.setOptions({ transientFailureRate: 0.5, seed: 7 });
			const outcome = [];
			for (let i = 0; i < 30; i++) {
				try {
					outcome.push((await create(sb, `t${i}@example.com`)).status);
				} catch {
					outcome.push('reset');
				}
			}
			return outcome;
		};
		const a = await run();
		const log = sb.requests.map((e) => ({ ...e, time: 0 }));
		expect(await run()).toEqual(a);
		const failed = a.filter((s) => s !== 201).length;
		expect(failed).toBeGreaterThan(5);
		expect(failed).toBeLessThan(25);
		expect(a).toEqual(expect.arrayContaining([429, 503, 'reset']));
		const processedResets = log.filter((e) => e.fault === 'reset' && e.processed).length;
		expect(processedResets).toBeGreaterThan(0);
		expect(sb.counts().created).toBe(a.filter((s) => s === 201).length + processedResets);
	});
});

describe('reports', () => {
	let receiver;
	afterEach(() => receiver && receiver.close());

	test.each([
		['json', 'application/json', (b) => b.toString()],
		['text', 'text/plain; charset=utf-8', (b) => b.toString()],
		['form', 'application/x-www-form-urlencoded', (b) => new URLSearchParams(b.toString()).get('data')],
	])('POST to a web address as %s', async (reportContentType, contentType, extract) => {
		receiver = await startReceiver();
		sb.setOptions({ reportContentType, fileSize: 50000 });
		const url = `${receiver.url}/webhook/8f1c2d3e-aaaa-bbbb-cccc-1234567890ab/copernica/report?secret=a%2Bb&x=1`;
		const id = (await create(sb, 'r@example.com', { report: url })).headers.get('x-created');
		const [d] = await sb.waitForDeliveries(1, 5000);
		expect(d).toMatchObject({ requestId: id, url, status: 200, ok: true, error: null, contentType, attempt: 1 });
		const got = receiver.received[0];
		expect(got.method).toBe('POST');
		expect(got.url).toBe(url.slice(receiver.url.length));
		expect(got.headers['content-type']).toBe(contentType);
		expect(Number(got.headers['content-length'])).toBe(got.body.length);
		expect(d.bytes).toBe(got.body.length);
		const file = await (await api(sb, `/v3/datarequest/${id}/data`)).text();
		expect(extract(got.body)).toBe(file);
	});

	test('signed reports: Digest matches the body and the Signature verifies', async () => {
		receiver = await startReceiver();
		sb.setOptions({ signReports: true });
		await create(sb, 'r@example.com', { report: `${receiver.url}/hook?k=1` });
		await sb.waitForDeliveries(1, 5000);
		const { headers, body } = receiver.received[0];
		expect(headers.digest).toBe('SHA-256=' + crypto.createHash('sha256').update(body).digest('base64'));
		expect(headers['x-copernica-id']).toMatch(/^\d+$/);
		expect(headers['x-nonce']).toMatch(/^[0-9a-f]{32}$/);
		expect(Math.abs(Date.parse(headers.date) - Date.now())).toBeLessThan(5000);
		const sig = Object.fromEntries([...headers.signature.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
		expect(sig).toMatchObject({ keyId: sb.signingKey.keyId, algorithm: 'rsa-sha256' });
		const signed = sig.headers.split(' ').map((h) => (h === '(request-target)' ? '(request-target): post /hook?k=1' : `${h}: ${headers[h]}`)).join('\n');
		expect(crypto.verify('sha256', Buffer.from(signed), sb.signingKey.publicKeyPem, Buffer.from(sig.signature, 'base64'))).toBe(true);
		expect(sb.signingKey.dnsTxt).toMatch(/^v=DKIM1; p=/);
	});

	test('signed reports: X-Copernica-ID is the account id and X-Nonce is fresh per post, unless switched to a replay or another account', async () => {
		receiver = await startReceiver();
		sb.setOptions({ signReports: true });
		for (const email of ['a@example.com', 'b@example.com']) await create(sb, email, { report: `${receiver.url}/hook` });
		await sb.waitForDeliveries(2, 5000);
		const account = (await (await api(sb, '/v3/identity')).json()).id;
		expect(receiver.received.map((r) => r.headers['x-copernica-id'])).toEqual([String(account), String(account)]);
		const [first, second] = receiver.received.map((r) => r.headers['x-nonce']);
		expect(first).not.toBe(second);

		sb.reset();
		sb.setOptions({ signReports: true, signNonce: first, signAccountId: '999' });
		await create(sb, 'c@example.com', { report: `${receiver.url}/hook` });
		await sb.waitForDeliveries(1, 5000);
		const replay = receiver.received[2];
		expect(replay.headers).toMatchObject({ 'x-nonce': first, 'x-copernica-id': '999' });
		// still a valid signature over the headers as sent
		const sig = Object.fromEntries([...replay.headers.signature.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
		const signed = sig.headers.split(' ').map((h) => (h === '(request-target)' ? '(request-target): post /hook' : `${h}: ${replay.headers[h]}`)).join('\n');
		expect(crypto.verify('sha256', Buffer.from(signed), sb.signingKey.publicKeyPem, Buffer.from(sig.signature, 'base64'))).toBe(true);
	});

	test('failed deliveries are retried; an unreachable address records the error', async () => {
		receiver = await startReceiver((_, n) => (n < 3 ? 500 : 204));
		sb.setOptions({ reportRetryDelayMs: 20 });
		await create(sb, 'r@example.com', { report: `${receiver.url}/hook` });
		const ds = await sb.waitForDeliveries(3, 5000);
		expect(ds.map((d) => [d.attempt, d.status, d.ok])).toEqual([[1, 500, false], [2, 500, false], [3, 204, true]]);

		sb.reset();
		sb.setOptions({ reportRetries: 1, reportRetryDelayMs: 20 });
		const closed = await startReceiver();
		await closed.close();
		await create(sb, 'r@example.com', { report: `${closed.url}/hook` });
		const failed = await sb.waitForDeliveries(2, 5000);
		expect(failed.every((d) => !d.ok && d.status === null && /ECONNREFUSED/.test(d.error))).toBe(true);
		// The delivery loop has ended (it marks the request) with no third attempt.
		const rec = [...sb.dataRequests.values()][0];
		while (rec.reported === 'started') await new Promise((r) => setImmediate(r));
		expect(rec.reported).toBe('failed');
		expect(sb.deliveries).toHaveLength(2);
	});

	test('report waits for readiness (sandbox clock)', async () => {
		receiver = await startReceiver();
		sb.setOptions({ readyAfterMs: 5 * 60000 });
		await create(sb, 'r@example.com', { report: `${receiver.url}/hook` });
		sb.advance(5 * 60000 - 1);
		expect(sb.deliveries).toHaveLength(0);
		sb.advance(1);
		await sb.waitForDeliveries(1);
		expect(receiver.received).toHaveLength(1);
	});

	test('email reports go to the outbox, attached or as a link', async () => {
		const id1 = (await create(sb, 'r@example.com', { report: 'dpo@example.com' })).headers.get('x-created');
		sb.setOptions({ mailAttachLimit: 1000 });
		const id2 = (await create(sb, 'r@example.com', { report: 'dpo@example.com' })).headers.get('x-created');
		sb.setOptions({ readyAfterMs: 60000 });
		const id3 = (await create(sb, 'r@example.com', { report: 'late@example.com' })).headers.get('x-created');
		expect(sb.outbox).toHaveLength(2);
		expect(sb.outbox[0]).toMatchObject({ to: 'dpo@example.com', requestId: id1, attached: true });
		expect(sb.outbox[0].downloadLink).toBeUndefined();
		expect(sb.outbox[1]).toMatchObject({ requestId: id2, attached: false, downloadLink: `${sb.url}/v3/datarequest/${id2}/data` });
		expect(sb.outbox[1].size).toBe(sb.summary()[1].size);
		sb.makeReady(id3);
		expect(sb.outbox[2]).toMatchObject({ to: 'late@example.com', requestId: id3 });
	});
});

describe('control API', () => {
	test('options, faults, ready, expire, clock, state, reset over HTTP', async () => {
		expect(await control(sb, '/options', 'POST', { readyAfterMs: 60000, expireAfterMs: 'Infinity' })).toMatchObject({ readyAfterMs: 60000, expireAfterMs: 'Infinity' });
		const id = (await create(sb, 'c@example.com')).headers.get('x-created');
		expect((await (await api(sb, `/v3/datarequest/${id}/status`)).json()).status).toBe('pending');
		expect(await control(sb, `/requests/${id}/ready`, 'POST')).toEqual({ ok: true });
		expect((await (await api(sb, `/v3/datarequest/${id}/status`)).json()).status).toBe('available');
		expect(await control(sb, `/requests/${id}/expire`, 'POST')).toEqual({ ok: true });
		expect((await (await api(sb, `/v3/datarequest/${id}/status`)).json()).status).toBe('not available');
		expect((await control(sb, '/requests/nope/ready', 'POST')).error.message).toMatch(/no data request/);

		await control(sb, '/faults', 'POST', { match: { kind: 'identity' }, type: 'rate-limit', times: 'Infinity' });
		expect(sb.faults[0].times).toBe(Infinity);
		expect((await api(sb, '/v3/identity')).status).toBe(429);
		expect((await api(sb, '/v3/identity')).status).toBe(429);
		await fetch(`${sb.url}/__sandbox/faults`, { method: 'DELETE' });
		expect((await api(sb, '/v3/identity')).status).toBe(200);

		const id2 = (await create(sb, 'c@example.com')).headers.get('x-created');
		await control(sb, '/clock', 'POST', { advanceMs: 60000 });
		expect((await (await api(sb, `/v3/datarequest/${id2}/status`)).json()).status).toBe('available');

		const state = await control(sb, '/state');
		expect(state.counts).toMatchObject({ create: 2, status: 4, identity: 3, created: 2 });
		expect(state.dataRequests.map((d) => [d.id, d.state])).toEqual([[id, 'expired'], [id2, 'ready']]);
		expect(state.faults).toEqual([]);
		expect(state.requests).toHaveLength(9);
		expect(JSON.stringify(state)).not.toContain(sb.token);

		await control(sb, '/reset', 'POST');
		const after = await control(sb, '/state');
		expect(after.counts.created).toBe(0);
		expect(after.requests).toEqual([]);
		expect(after.options.readyAfterMs).toBe(0);
	});

	test('cli.js starts, answers and stops on SIGTERM', async () => {
		const child = spawn(process.execPath, [path.join(__dirname, 'cli.js'), '--port', '0', '--token', '12345', '--id-style', 'json', '--sign-reports'], { stdio: ['ignore', 'pipe', 'inherit'] });
		const info = await new Promise((resolve, reject) => {
			let out = '';
			child.stdout.on('data', (c) => {
				out += c;
				const m = /SANDBOX_READY (.*)\n/.exec(out);
				if (m) resolve(JSON.parse(m[1]));
			});
			child.on('exit', (code) => reject(new Error(`exited ${code}`)));
		});
		expect(info.token).toBe('12345');
		const state = await (await fetch(`${info.url}/__sandbox/state`)).json();
		expect(state.options).toMatchObject({ idStyle: 'json', signReports: true });
		const res = await fetch(`${info.url}/v3/email/a%40b.c/datarequest?access_token=12345`, { method: 'POST' });
		expect(await res.json()).toEqual({ id: '1' });
		const code = await new Promise((resolve) => {
			child.on('exit', resolve);
			child.kill('SIGTERM');
		});
		expect(code).toBe(0);
	});
});
