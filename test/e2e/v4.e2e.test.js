// API v4 in real n8n (1.x and 2.x): n8n's own preAuthentication exchanges the token for a JWT at
// the sandbox, stores it (encrypted) with the credential and hands it to the next execution;
// every call goes with `Authorization: Bearer`; the token and the JWT are in none of n8n's
// database, its WAL, its log or the executions. The credential Test on both versions.
const path = require('path');

const { ensureN8n } = require('./install-n8n');
const { countInFile, startN8n, packPackage } = require('./n8n');
const { startSandbox } = require('../sandbox');

const ROOT = path.resolve(__dirname, '..', '..');
const TOKEN = 'e2e-v4-token-3b7e1f9a0c2d';
const BAD_TOKEN = 'e2e-v4-bad-token-8d2c4a6e1f0b';
const V4 = 'copernicaV4sandb';
const V4_BAD = 'copernicaV4badtk';
const V3 = 'copernicaV3sandb';
const ITEMS = 200;

jest.setTimeout(15 * 60 * 1000);

let tarball;
let sandbox;
beforeAll(async () => {
	tarball = packPackage(process.env.E2E_PACKAGE_DIR || ROOT);
	sandbox = await startSandbox({ token: TOKEN });
});
afterAll(async () => {
	await sandbox?.close();
});

const copernica = (name, parameters, credentialId, position = [400, 0]) => ({
	id: name,
	name,
	type: 'n8n-nodes-copernica.copernicaDataRequest',
	typeVersion: 1,
	position,
	parameters,
	credentials: { copernicaApi: { id: credentialId, name: credentialId } },
});
const manual = { id: 'm', name: 'Manual', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} };

/** Manual -> Code (n emails) -> Create -> Get, on the given credential. */
function workflow(name, credentialId, items) {
	return {
		name,
		nodes: [
			manual,
			{
				id: 'items',
				name: 'Emails',
				type: 'n8n-nodes-base.code',
				typeVersion: 2,
				position: [200, 0],
				parameters: { jsCode: `return Array.from({ length: ${items} }, (_, i) => ({ json: { email: 'v4-' + i + '@example.com' } }));` },
			},
			copernica('Create', { operation: 'create', subjectType: 'email', subject: '={{ $json.email }}', report: '' }, credentialId),
			copernica('Get', { operation: 'get', requestId: '={{ $json.id }}', returnAs: 'json' }, credentialId, [600, 0]),
		],
		connections: {
			Manual: { main: [[{ node: 'Emails', type: 'main', index: 0 }]] },
			Emails: { main: [[{ node: 'Create', type: 'main', index: 0 }]] },
			Create: { main: [[{ node: 'Get', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

/** Requests that carried the access token anywhere but the exchange's form body. */
const tokenElsewhere = () => sandbox.requests.filter((r) => r.tokenIn && !(r.kind === 'authenticate' && r.tokenIn.join() === 'body'));

describe.each([[1], [2]])('n8n %i.x', (major) => {
	let n8n;
	const ids = {};
	const jwts = new Set();
	const label = (what) => `n8n ${major}.x: ${what}`;
	const noteJwts = () => {
		for (const jwt of sandbox._jwts.keys()) jwts.add(jwt);
	};

	beforeAll(async () => {
		ensureN8n(major);
		const authenticationUrl = `${sandbox.url}/authenticate`;
		n8n = await startN8n({
			major,
			packageTarball: tarball,
			credentials: [
				// As a credential saved before v4 existed: no apiVersion, so the field's default (v4) holds.
				{ id: V4, name: 'Copernica v4 (sandbox)', type: 'copernicaApi', data: { accessToken: TOKEN, baseUrl: sandbox.url, authenticationUrl } },
				{ id: V4_BAD, name: 'Copernica v4 (bad token)', type: 'copernicaApi', data: { apiVersion: 'v4', accessToken: BAD_TOKEN, baseUrl: sandbox.url, authenticationUrl } },
				{ id: V3, name: 'Copernica v3 (sandbox)', type: 'copernicaApi', data: { apiVersion: 'v3', accessToken: TOKEN, baseUrl: sandbox.url } },
			],
		});
		for (const [key, credentialId, items] of [['many', V4, ITEMS], ['one', V4, 1], ['bad', V4_BAD, 1]]) {
			ids[key] = (await n8n.api('POST', '/workflows', workflow(`v4 ${key}`, credentialId, items))).body.id;
		}
	});
	afterAll(async () => {
		await n8n?.stop();
	});
	beforeEach(() => {
		sandbox.reset();
		sandbox.clearFaults();
	});

	it(`creates and gets ${ITEMS} data requests with one exchange; the next execution uses the stored JWT`, async () => {
		const run = await n8n.executeWorkflow(ids.many, { timeoutMs: 10 * 60_000 });
		expect({ what: label('run'), status: run.status, error: run.error }).toEqual({ what: label('run'), status: 'success', error: undefined });
		expect(run.output('Create')).toHaveLength(ITEMS);
		const files = run.output('Get');
		expect(files).toHaveLength(ITEMS);
		expect(files.every((file) => file.status === 'available')).toBe(true);
		expect(sandbox.counts()).toMatchObject({ authenticate: 1, create: ITEMS, created: ITEMS });
		expect(sandbox.requests.filter((r) => r.kind !== 'authenticate').every((r) => r.version === 'v4' && r.status < 300)).toBe(true);
		expect(tokenElsewhere()).toEqual([]);
		noteJwts();

		// n8n stored the JWT with the credential: another execution makes no exchange.
		const again = await n8n.executeWorkflow(ids.one);
		expect(again.status).toBe('success');
		expect(sandbox.counts()).toMatchObject({ authenticate: 1, create: ITEMS + 1 });
		console.log(label(`${ITEMS} creates and ${ITEMS} gets, then 1 + 1: ${sandbox.counts().authenticate} exchange`));
	});

	it('a JWT that expires between executions is renewed once after the 401, and the run succeeds', async () => {
		sandbox.expireJwts();
		const run = await n8n.executeWorkflow(ids.one);
		expect({ what: label('after expiry'), status: run.status }).toEqual({ what: label('after expiry'), status: 'success' });
		expect(sandbox.counts()).toMatchObject({ authenticate: 1, created: 1 });
		expect(sandbox.requests.slice(0, 3).map((r) => `${r.kind} ${r.status}`)).toEqual(['create 401', 'authenticate 200', 'create 201']);
		expect(sandbox.requests.filter((r) => r.status === 401)).toHaveLength(1);
		noteJwts();
	});

	it('a revoked token fails with Copernica\'s message', async () => {
		sandbox.setOptions({ tokenRevoked: true });
		sandbox.expireJwts();
		const run = await n8n.executeWorkflow(ids.one);
		expect({ what: label('revoked'), status: run.status }).toEqual({ what: label('revoked'), status: 'error' });
		expect(JSON.stringify(run.error)).toContain('Copernica refused the access token for API v4: Invalid access token');
		expect(sandbox.counts()).toMatchObject({ authenticate: 1, created: 0 });
		const bad = await n8n.executeWorkflow(ids.bad);
		expect(JSON.stringify(bad.error)).toContain('Copernica refused the access token for API v4: Invalid access token');
		noteJwts();
	});

	it('the credential Test works on both versions, and names the version on failure', async () => {
		// The stored JWT was made to expire by the test before: Test renews it after the 401.
		expect(await n8n.testCredential(V4)).toMatchObject({ status: 'OK' });
		expect(sandbox.requests.map((r) => `${r.kind} ${r.status}`)).toEqual(['identity 401', 'authenticate 200', 'identity 200']);
		expect(sandbox.requests.at(-1)).toMatchObject({ kind: 'identity', version: 'v4' });
		expect(await n8n.testCredential(V4)).toMatchObject({ status: 'OK' });
		expect(sandbox.counts()).toMatchObject({ authenticate: 1, identity: 3 });
		expect(await n8n.testCredential(V3)).toMatchObject({ status: 'OK' });
		expect(sandbox.requests.at(-1)).toMatchObject({ kind: 'identity', version: 'v3', status: 200 });
		noteJwts();

		const bad = await n8n.testCredential(V4_BAD);
		console.log(label(`credential Test, bad token on v4: ${JSON.stringify(bad)}`));
		expect(bad).toMatchObject({ status: 'Error' });
		expect(bad.message).toContain('Invalid access token');
		expect(bad.message).not.toContain(BAD_TOKEN);

		sandbox.setOptions({ tokenVersions: 'v3', restrictedTokenMessage: 'Token not valid for REST API v4' });
		sandbox.expireJwts();
		const v3only = await n8n.testCredential(V4);
		console.log(label(`credential Test, v3-only token on v4: ${JSON.stringify(v3only)}`));
		expect(v3only).toMatchObject({ status: 'Error' });
		expect(v3only.message).toBe('Copernica refused the access token for API v4: Token not valid for REST API v4. If the token is restricted to REST API v3 in Copernica, set API Version to v3');
		expect(await n8n.testCredential(V3)).toMatchObject({ status: 'OK' });

		sandbox.setOptions({ tokenVersions: 'v4', restrictedTokenMessage: 'Invalid access token' });
		const v4only = await n8n.testCredential(V3);
		console.log(label(`credential Test, v4-only token on v3: ${JSON.stringify(v4only)}`));
		expect(v4only).toMatchObject({ status: 'Error' });
		expect(v4only.message).toMatch(/set API Version to that one/);
	});

	it('the token and the JWTs are in none of the database, its WAL, the log or the executions', async () => {
		await new Promise((resolve) => setTimeout(resolve, 1000)); // let n8n flush the executions
		noteJwts();
		const secrets = [TOKEN, BAD_TOKEN, ...jwts];
		expect(jwts.size).toBeGreaterThanOrEqual(2);
		const countAll = (file) => secrets.reduce((sum, secret) => sum + countInFile(file, secret), 0);
		let inExecutions = 0;
		for (const id of Object.values(ids)) {
			for (const execution of await n8n.executions(id)) {
				const text = JSON.stringify(await n8n.execution(execution.id));
				if (secrets.some((secret) => text.includes(secret))) inExecutions++;
			}
		}
		const found = {
			'database.sqlite': countAll(n8n.dbPath),
			'database.sqlite-wal': countAll(`${n8n.dbPath}-wal`),
			'n8n log': countAll(n8n.logFile),
			executions: inExecutions,
		};
		console.log(label(`token and ${jwts.size} JWTs: ${JSON.stringify(found)}`));
		expect(found).toEqual({ 'database.sqlite': 0, 'database.sqlite-wal': 0, 'n8n log': 0, executions: 0 });
	});
});
