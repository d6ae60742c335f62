// API v4 in n8n-core: the token exchange through n8n's preAuthentication (the harness calls it as
// n8n does), the JWT kept with the credential and renewed once per expiry, the Bearer header, and
// the sandbox's request log holding the access token nowhere but in the exchange's form body.
import type { IDataObject } from 'n8n-workflow';

import { jwtTimes } from '../../nodes/Copernica/helpers/jwt';
import { dataRequestOf, everythingStoredOf, runNode, startCopernica, TOKEN, type Sandbox } from './copernica';
import { cleanupEngine } from './harness';
import { DEFAULT_CONCURRENCY } from '../../nodes/Copernica/helpers/concurrency';

type V4Sandbox = Omit<Sandbox, 'requests'> & {
	issueJwt(lifetimeMs?: number): string;
	expireJwts(): void;
	setAccount(spec: IDataObject): IDataObject;
	on(event: 'request', listener: (entry: LogEntry) => void): void;
	off(event: 'request', listener: (entry: LogEntry) => void): void;
	requests: LogEntry[];
};
interface LogEntry {
	method: string;
	path: string;
	kind: string;
	status: number;
	version?: string;
	tokenIn?: string[];
}

let sandbox: V4Sandbox;
beforeAll(async () => {
	sandbox = (await startCopernica()) as unknown as V4Sandbox;
});
afterAll(async () => {
	await sandbox.close();
	await cleanupEngine();
});
beforeEach(() => {
	sandbox.reset();
	sandbox.clearFaults();
});

const createEmail = (email: string) => ({ operation: 'create', subjectType: 'email', subject: email });
const v4 = { apiVersion: 'v4' as const };
const emails = (n: number) => Array.from({ length: n }, (_, i) => ({ email: `v4-${i}@example.com` }));

/** Every logged request that carried the access token, and where. */
const tokenSightings = () => sandbox.requests.filter((e) => e.tokenIn).map((e) => ({ kind: e.kind, method: e.method, tokenIn: e.tokenIn }));

describe('API v4', () => {
	it('exchanges the token once, sends the JWT as Bearer under /v4, and reads the id from X-location', async () => {
		const { run, output } = await runNode(sandbox, createEmail('v4@example.com'), v4);
		expect(run.error).toBeUndefined();
		const { id } = output![0].json;
		expect(dataRequestOf(sandbox, id as string)).toMatchObject({ type: 'email', target: 'v4@example.com', apiVersion: 'v4' });
		expect(sandbox.requests.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([
			'POST /authenticate 200',
			'POST /v4/email/v4%40example.com/datarequest 201',
		]);
		expect(tokenSightings()).toEqual([{ kind: 'authenticate', method: 'POST', tokenIn: ['body'] }]);
		// The JWT is stored with the credential (as n8n stores it, encrypted) and nowhere in the run.
		const jwt = run.storedCredentials.copernicaApi.expirable as string;
		expect(jwtTimes(jwt).expiresAt).toBeGreaterThan(Date.now());
		const stored = everythingStoredOf(run);
		expect(stored).not.toContain(TOKEN);
		expect(stored).not.toContain(jwt);

		// The next execution goes with the stored JWT: no exchange.
		const next = await runNode(sandbox, createEmail('v4-next@example.com'), { ...v4, credential: { expirable: jwt } });
		expect(next.run.error).toBeUndefined();
		expect(next.run.preAuthentications).toBe(0);
		expect(sandbox.counts()).toMatchObject({ authenticate: 1, create: 2 });
	});

	it('1,000 creates make exactly one exchange, and the token travels in no other request', async () => {
		const { run, output } = await runNode(sandbox, { ...createEmail('={{ $json.email }}') }, { ...v4, items: emails(1000) });
		expect(run.error).toBeUndefined();
		expect(output).toHaveLength(1000);
		expect(sandbox.counts()).toMatchObject({ authenticate: 1, create: 1000, created: 1000 });
		expect(run.preAuthentications).toBe(1);
		expect(tokenSightings()).toEqual([{ kind: 'authenticate', method: 'POST', tokenIn: ['body'] }]);
		expect(sandbox.requests.filter((e) => e.kind === 'create').every((e) => e.version === 'v4' && !e.path.includes('access_token'))).toBe(true);
	});

	it('a JWT that expires mid-run is renewed once, and no item fails', async () => {
		let creates = 0;
		const expireAt300 = (entry: LogEntry) => {
			if (entry.kind === 'create' && ++creates === 300) {
				sandbox.expireJwts();
				// The next create (sent with the old JWT) is answered 401 only after the renewal: it must not renew again.
				sandbox.addFault({ match: { kind: 'create' }, type: 'slow', delayMs: 1000 });
			}
		};
		sandbox.on('request', expireAt300);
		try {
			const { run, output } = await runNode(sandbox, { ...createEmail('={{ $json.email }}') }, { ...v4, items: emails(1000), continueOnFail: true });
			expect(run.error).toBeUndefined();
			expect(output!.filter((item) => item.json.error !== undefined)).toEqual([]);
			expect(sandbox.counts()).toMatchObject({ authenticate: 2, created: 1000 });
			expect(run.preAuthentications).toBe(2);
			// The calls in flight when it expired were refused (each once) and sent again.
			const refused = sandbox.requests.filter((e) => e.status === 401);
			expect(refused.length).toBeGreaterThanOrEqual(1);
			expect(refused.length).toBeLessThanOrEqual(DEFAULT_CONCURRENCY); // at most the calls in flight
			expect(sandbox.counts().create).toBe(1000 + refused.length);
		} finally {
			sandbox.off('request', expireAt300);
		}
	});

	it('a stored JWT past its exp is renewed before the call, not after a 401', async () => {
		const stale = sandbox.issueJwt(-1000); // its exp a second ago: the sandbox would answer 401
		const { run } = await runNode(sandbox, { ...createEmail('={{ $json.email }}') }, { ...v4, items: emails(20), credential: { expirable: stale } });
		expect(run.error).toBeUndefined();
		expect(sandbox.counts()).toMatchObject({ authenticate: 1, created: 20 });
		expect(sandbox.requests.filter((e) => e.status === 401)).toEqual([]);
		expect(run.storedCredentials.copernicaApi.expirable).not.toBe(stale);
	});

	it('a revoked token fails every item with Copernica\'s message, after one exchange, nothing created', async () => {
		sandbox.setOptions({ tokenRevoked: true });
		const { run, output } = await runNode(sandbox, { ...createEmail('={{ $json.email }}') }, { ...v4, items: emails(5), continueOnFail: true });
		expect(run.error).toBeUndefined();
		expect(output).toHaveLength(5);
		for (const item of output!) {
			expect(item.json.error).toBe('Copernica refused the access token for API v4: Invalid access token');
		}
		expect(sandbox.counts()).toMatchObject({ authenticate: 1, create: 0 });
		expect(everythingStoredOf(run)).not.toContain(TOKEN);

		const stops = await runNode(sandbox, createEmail('revoked@example.com'), v4);
		expect(stops.run.error?.message).toBe('Copernica refused the access token for API v4: Invalid access token');
		expect(stops.run.error?.description).toContain('If the token is restricted to REST API v3');
	});

	it('a token restricted to v3 is told to use API Version v3; with v3 it works as before', async () => {
		sandbox.setOptions({ tokenVersions: 'v3', restrictedTokenMessage: 'Access token not valid for REST API v4' });
		const refused = await runNode(sandbox, createEmail('v3only@example.com'), v4);
		expect(refused.run.error?.message).toBe('Copernica refused the access token for API v4: Access token not valid for REST API v4');
		expect(refused.run.error?.description).toContain('set API Version to v3');
		const v3 = await runNode(sandbox, createEmail('v3only@example.com'), { apiVersion: 'v3' });
		expect(v3.run.error).toBeUndefined();
		expect(sandbox.requests.at(-1)).toMatchObject({ kind: 'create', version: 'v3', tokenIn: ['url'], status: 201 });
		expect(sandbox.counts()).toMatchObject({ authenticate: 1, created: 1 });
	});

	it.each([
		['text', 'the raw JWT'],
		['quoted', 'a JSON string'],
		['json-token', 'JSON with "token"'],
	])('accepts the exchange answered as %s (%s)', async (authenticateStyle) => {
		sandbox.setOptions({ authenticateStyle });
		const { run } = await runNode(sandbox, createEmail('forms@example.com'), v4);
		expect(run.error).toBeUndefined();
		expect(sandbox.counts()).toMatchObject({ authenticate: 1, created: 1 });
	});

	it('falls back to the GET form only when the POST is refused as a method', async () => {
		sandbox.setOptions({ authenticatePost: false });
		const { run } = await runNode(sandbox, createEmail('get-form@example.com'), v4);
		expect(run.error).toBeUndefined();
		expect(sandbox.requests.map((e) => `${e.method} ${e.kind} ${e.status}`)).toEqual(['POST authenticate 405', 'GET authenticate 200', 'POST create 201']);
		expect(tokenSightings()).toEqual([
			{ kind: 'authenticate', method: 'POST', tokenIn: ['body'] },
			{ kind: 'authenticate', method: 'GET', tokenIn: ['url'] },
		]);
		expect(everythingStoredOf(run)).not.toContain(TOKEN);
	});

	it('Get and Find Person (paging) work under /v4', async () => {
		const created = await runNode(sandbox, createEmail('get@example.com'), v4);
		const jwt = created.run.storedCredentials.copernicaApi.expirable as string;
		const id = created.output![0].json.id as string;
		const got = await runNode(sandbox, { operation: 'get', requestId: id, returnAs: 'json' }, { ...v4, credential: { expirable: jwt } });
		expect(got.run.error).toBeUndefined();
		expect(got.output![0].json).toMatchObject({ id, status: 'available' });

		sandbox.setOptions({ maxLimit: 2 });
		sandbox.setAccount({
			databases: [{ ID: 1, name: 'Customers', fields: [{ ID: 11, name: 'email', type: 'email' }], generate: { count: 5, firstId: 100, fields: { email: 'find@example.com' } }, profiles: [{ ID: 7, fields: { email: 'find@example.com' } }] }],
		});
		const found = await runNode(sandbox, { operation: 'findPerson', email: 'find@example.com' }, { ...v4, credential: { expirable: jwt } });
		expect(found.run.error).toBeUndefined();
		// Six profiles match, two to a page: three pages
		expect(found.output!.map((item) => String(item.json.id)).sort()).toEqual(['100', '101', '102', '103', '104', '7']);
		expect(sandbox.requests.filter((e) => e.kind === 'profiles')).toHaveLength(3);
		const lists = sandbox.requests.filter((e) => ['databases', 'databaseFields', 'collections', 'profiles'].includes(e.kind));
		expect(lists.length).toBeGreaterThan(3);
		expect(lists.every((e) => e.version === 'v4' && e.status === 200)).toBe(true);
		expect(sandbox.counts().authenticate).toBe(1);
		expect(tokenSightings()).toEqual([{ kind: 'authenticate', method: 'POST', tokenIn: ['body'] }]);

		// Lists without count and total (v4's paging is not documented as v3's): paged to the end all the same.
		sandbox.setOptions({ v4ListFields: 'data-only' });
		const before = sandbox.counts().profiles;
		const again = await runNode(sandbox, { operation: 'findPerson', email: 'find@example.com' }, { ...v4, credential: { expirable: jwt } });
		expect(again.run.error).toBeUndefined();
		expect(again.output!.map((item) => item.json)).toEqual(found.output!.map((item) => item.json));
		// Without total the end shows only as a short (here: empty) page: one call more
		expect(sandbox.counts().profiles - before).toBe(4);
	});

	it('Create and Wait creates under /v4 with the resume URL as report, and ends waiting', async () => {
		const { run, output } = await runNode(sandbox, { operation: 'createAndWait', subjectType: 'email', subject: 'wait-v4@example.com', options: {} }, v4);
		expect(run.error).toBeUndefined();
		expect(run.status).toBe('waiting');
		const record = dataRequestOf(sandbox, output![0].json.id as string);
		expect(record).toMatchObject({ apiVersion: 'v4', target: 'wait-v4@example.com' });
		expect((record.report as string).startsWith(run.resumeUrl)).toBe(true);
		expect(tokenSightings()).toEqual([{ kind: 'authenticate', method: 'POST', tokenIn: ['body'] }]);
	});

	it('refuses, before any request, a Base URL naming v3 and a plain-http Authentication URL beyond this machine', async () => {
		const conflict = await runNode(sandbox, createEmail('conflict@example.com'), { ...v4, baseUrl: `${sandbox.url}/v3` });
		expect(conflict.run.error?.message).toBe(
			"The credential's Base URL ends in /v3, but its API Version is v4: set API Version to v3, or remove /v3 from the Base URL",
		);
		const plain = await runNode(sandbox, createEmail('plain@example.com'), { ...v4, credential: { authenticationUrl: 'http://authenticate.example.com' } });
		expect(plain.run.error?.message).toBe("The credential's Authentication URL http://authenticate.example.com uses http://");
		expect(sandbox.requests).toEqual([]);
	});
});
