import type { ICredentialDataDecryptedObject, IHttpRequestOptions } from 'n8n-workflow';

import { CopernicaApi } from '../../credentials/CopernicaApi.credentials';
import { apiVersionOf, baseUrlVersionConflict, versionedPath } from '../../nodes/Copernica/helpers/baseUrl';
import { isJwt, jwtFromExchangeAnswer, jwtNeedsRenewal, jwtTimes, RENEW_BEFORE_EXP_MS } from '../../nodes/Copernica/helpers/jwt';
import { exchangeAccessToken, takeExchangeFailure } from '../../nodes/Copernica/transport/exchange';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwtWith = (claims: Record<string, unknown>) => `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}.c2lnbmF0dXJl`;
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const s = (ms: number) => Math.floor(ms / 1000);

describe('jwtTimes and jwtNeedsRenewal', () => {
	it('reads exp and iat (seconds) as milliseconds', () => {
		expect(jwtTimes(jwtWith({ iat: s(NOW), exp: s(NOW) + 86400 }))).toEqual({ issuedAt: NOW, expiresAt: NOW + 86_400_000 });
		expect(jwtTimes(jwtWith({ sub: 1 }))).toEqual({ issuedAt: undefined, expiresAt: undefined });
		expect(jwtTimes(jwtWith({ exp: '1700000000' }))).toEqual({ issuedAt: undefined, expiresAt: undefined });
		expect(jwtTimes('not.a-jwt')).toEqual({ issuedAt: undefined, expiresAt: undefined });
		expect(jwtTimes('a.b@.c')).toEqual({ issuedAt: undefined, expiresAt: undefined });
	});

	it('renews when there is no JWT, when exp has passed, and within five minutes of exp', () => {
		expect(jwtNeedsRenewal('', NOW)).toBe(true);
		expect(jwtNeedsRenewal(undefined, NOW)).toBe(true);
		expect(jwtNeedsRenewal('garbage', NOW)).toBe(true);
		const day = jwtWith({ iat: s(NOW), exp: s(NOW) + 86400 });
		expect(jwtNeedsRenewal(day, NOW)).toBe(false);
		expect(jwtNeedsRenewal(day, NOW + 86_400_000 - RENEW_BEFORE_EXP_MS - 1)).toBe(false);
		expect(jwtNeedsRenewal(day, NOW + 86_400_000 - RENEW_BEFORE_EXP_MS)).toBe(true);
		expect(jwtNeedsRenewal(day, NOW + 86_400_000 + 1)).toBe(true);
	});

	it('a short-lived JWT is renewed in the last tenth of its life, not on every call', () => {
		const minute = jwtWith({ iat: s(NOW), exp: s(NOW) + 60 });
		expect(jwtNeedsRenewal(minute, NOW + 53_999)).toBe(false);
		expect(jwtNeedsRenewal(minute, NOW + 54_000)).toBe(true);
		// Without iat the lifetime is unknown: five minutes
		const noIat = jwtWith({ exp: s(NOW) + 600 });
		expect(jwtNeedsRenewal(noIat, NOW + 299_999)).toBe(false);
		expect(jwtNeedsRenewal(noIat, NOW + 300_000)).toBe(true);
		// Without exp it is used until Copernica answers 401
		expect(jwtNeedsRenewal(jwtWith({ sub: 1 }), NOW)).toBe(false);
	});
});

describe('jwtFromExchangeAnswer', () => {
	const jwt = jwtWith({ exp: s(NOW) });
	it.each([
		['the raw JWT', jwt],
		['the raw JWT with a newline', `${jwt}\n`],
		['a JSON string', JSON.stringify(jwt)],
		['JSON access_token', JSON.stringify({ access_token: jwt, token_type: 'Bearer', expires_in: 86400 })],
		['JSON token', JSON.stringify({ token: jwt })],
		['JSON jwt', JSON.stringify({ jwt })],
		['JSON data.token', JSON.stringify({ data: { token: jwt } })],
		['an already parsed object', { access_token: jwt }],
	])('finds it in %s', (_form, body) => {
		expect(jwtFromExchangeAnswer(body)).toBe(jwt);
	});

	it.each([
		['an empty body', ''],
		['an error', JSON.stringify({ error: { message: 'Invalid access token' } })],
		['HTML', '<html><body>502 Bad Gateway</body></html>'],
		['plain words', 'Invalid access token'],
		['broken JSON', '{"token": '],
		['undefined', undefined],
	])('finds none in %s', (_form, body) => {
		expect(jwtFromExchangeAnswer(body)).toBeUndefined();
	});

	it('isJwt takes three base64url parts only', () => {
		expect(isJwt(jwt)).toBe(true);
		expect(isJwt('a.b')).toBe(false);
		expect(isJwt('a.b.c.d')).toBe(false);
		expect(isJwt(42)).toBe(false);
	});
});

describe('API version and base URL', () => {
	it('anything but v3 is v4, the default', () => {
		expect(apiVersionOf({ apiVersion: 'v3' })).toBe('v3');
		expect(apiVersionOf({ apiVersion: 'v4' })).toBe('v4');
		expect(apiVersionOf({})).toBe('v4');
	});

	it('a Base URL naming the other version is a conflict; the same version or none is not', () => {
		expect(baseUrlVersionConflict('https://api.copernica.com/v3/', 'v4')).toBe(
			"The credential's Base URL ends in /v3, but its API Version is v4: set API Version to v3, or remove /v3 from the Base URL",
		);
		expect(baseUrlVersionConflict('https://rest.copernica.com/V4', 'v3')).toMatch(/ends in \/v4, but its API Version is v3/);
		expect(baseUrlVersionConflict('https://api.copernica.com/v4', 'v4')).toBeUndefined();
		expect(baseUrlVersionConflict('https://api.copernica.com', 'v4')).toBeUndefined();
		expect(baseUrlVersionConflict(undefined, 'v3')).toBeUndefined();
	});

	it('v3 paths are sent under /v4 with v4, as they are with v3', () => {
		expect(versionedPath('/v3/email/a%40b.c/datarequest', 'v4')).toBe('/v4/email/a%40b.c/datarequest');
		expect(versionedPath('/v3/datarequest/1/status', 'v3')).toBe('/v3/datarequest/1/status');
		expect(versionedPath('/v3x/other', 'v4')).toBe('/v3x/other');
	});
});

describe('the credential', () => {
	const credential = new CopernicaApi();
	const authenticate = credential.authenticate as (c: object, o: IHttpRequestOptions) => Promise<IHttpRequestOptions>;

	it('v3: the token in the query; v4: the JWT as Bearer header and no access_token', async () => {
		const request = { url: '/v3/identity', baseURL: 'https://api.copernica.com/', method: 'GET' } as IHttpRequestOptions;
		expect(await authenticate({ apiVersion: 'v3', accessToken: 'tok', expirable: '' }, request)).toEqual({
			...request,
			baseURL: 'https://api.copernica.com',
			qs: { access_token: 'tok' },
		});
		const v4 = await authenticate({ apiVersion: 'v4', accessToken: 'tok', expirable: 'a.b.c' }, request);
		expect(v4).toEqual({ ...request, baseURL: 'https://api.copernica.com', url: '/v4/identity', headers: { Authorization: 'Bearer a.b.c' } });
		expect(JSON.stringify(v4)).not.toContain('tok');
		await expect(authenticate({ apiVersion: 'v4', accessToken: 'tok' }, { ...request, baseURL: 'https://api.copernica.com/v3' })).rejects.toThrow(
			/ends in \/v3, but its API Version is v4/,
		);
	});

	it('defaults: API Version v4 (new credentials, and stored ones without the field), the documented authentication URL', () => {
		const byName = Object.fromEntries(credential.properties.map((p) => [p.name, p]));
		expect(byName.apiVersion.default).toBe('v4');
		expect(byName.authenticationUrl.default).toBe('https://authenticate.copernica.com');
		expect(byName.expirable).toMatchObject({ type: 'hidden', typeOptions: { expirable: true }, default: '' });
	});

	it('preAuthentication does nothing for v3', async () => {
		const helpers = { httpRequest: jest.fn() };
		const preAuthentication = credential.preAuthentication!.bind({ helpers } as never);
		expect(await preAuthentication({ apiVersion: 'v3', accessToken: 'tok' })).toEqual({});
		expect(helpers.httpRequest).not.toHaveBeenCalled();
	});
});

describe('exchangeAccessToken', () => {
	const TOKEN = 'secret-token-123456';
	const jwt = jwtWith({ exp: s(NOW) + 86400 });
	const answer = (statusCode: number, body: string) => ({ statusCode, body, headers: {} });
	const credentials = () => ({ accessToken: TOKEN, authenticationUrl: 'https://authenticate.example.com/', allowUnencryptedHttp: false });

	it('POSTs the token as a form body to the Authentication URL, and nowhere in the URL', async () => {
		const httpRequest = jest.fn().mockResolvedValue(answer(200, jwt));
		expect(await exchangeAccessToken({ httpRequest } as never, credentials())).toBe(jwt);
		expect(httpRequest).toHaveBeenCalledTimes(1);
		const [options] = httpRequest.mock.calls[0] as [IHttpRequestOptions];
		expect(options).toMatchObject({
			method: 'POST',
			url: 'https://authenticate.example.com',
			body: `access_token=${TOKEN}`,
			headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
			returnFullResponse: true,
			ignoreHttpStatusErrors: true,
		});
	});

	it('tries the GET form only after a 405', async () => {
		const httpRequest = jest.fn().mockResolvedValueOnce(answer(405, '')).mockResolvedValueOnce(answer(200, JSON.stringify({ token: jwt })));
		expect(await exchangeAccessToken({ httpRequest } as never, credentials())).toBe(jwt);
		expect(httpRequest.mock.calls.map(([o]) => `${o.method} ${o.url}`)).toEqual([
			'POST https://authenticate.example.com',
			`GET https://authenticate.example.com?access_token=${TOKEN}`,
		]);
		const refused = jest.fn().mockResolvedValue(answer(400, JSON.stringify({ error: { message: 'Invalid access token' } })));
		const data = credentials();
		await expect(exchangeAccessToken({ httpRequest: refused } as never, data)).rejects.toThrow(
			'Copernica refused the access token for API v4: Invalid access token. If the token is restricted to REST API v3 in Copernica, set API Version to v3',
		);
		expect(refused).toHaveBeenCalledTimes(1);
		expect(takeExchangeFailure(data)).toMatchObject({ refused: true, message: 'Copernica refused the access token for API v4: Invalid access token' });
		expect(takeExchangeFailure(data)).toBeUndefined();
	});

	it('fails in its own words, without the token: no answer, 503, an answer without a JWT, plain http', async () => {
		const echo = Object.assign(new Error(`connect ECONNREFUSED; data: access_token=${TOKEN}`), { code: 'ECONNREFUSED', config: { data: `access_token=${TOKEN}` } });
		const cases: Array<[jest.Mock, ICredentialDataDecryptedObject, RegExp, boolean]> = [
			[jest.fn().mockRejectedValue(echo), credentials(), /^Could not reach Copernica's authentication at authenticate\.example\.com: the connection was refused$/, false],
			[jest.fn().mockResolvedValue(answer(503, `<html>${TOKEN}</html>`)), credentials(), /HTTP 503/, false],
			[jest.fn().mockResolvedValue(answer(200, '{"ok":true}')), credentials(), /answered without a token/, true],
			[jest.fn(), { ...credentials(), authenticationUrl: 'http://authenticate.example.com' }, /uses http:\/\//, true],
		];
		for (const [httpRequest, data, message, refused] of cases) {
			const error = await exchangeAccessToken({ httpRequest } as never, data).catch((e: Error & { description: string }) => e);
			expect((error as Error).message).toMatch(message);
			expect(JSON.stringify({ message: (error as Error).message, description: (error as { description: string }).description })).not.toContain(TOKEN);
			expect(takeExchangeFailure(data)?.refused).toBe(refused);
		}
	});

	it('plain http to this machine is allowed without the option', async () => {
		const httpRequest = jest.fn().mockResolvedValue(answer(200, jwt));
		expect(await exchangeAccessToken({ httpRequest } as never, { ...credentials(), authenticationUrl: 'http://127.0.0.1:8765/authenticate' })).toBe(jwt);
	});
});
