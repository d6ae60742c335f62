'use strict';
/** The sandbox's account (account.js): databases, collections, profiles and subprofiles; paging; fields[] conditions. */
const { startSandbox } = require('./index');
const { parseCondition, compileCondition, likeToRegExp } = require('./account');

const ACCOUNT = {
	databases: [
		{
			ID: 1,
			name: 'Customers',
			fields: [
				{ ID: 11, name: 'email', type: 'email' },
				{ ID: 12, name: 'age', type: 'integer' },
			],
			collections: [{ ID: 101, name: 'Orders', fields: [{ ID: 111, name: 'contact', type: 'email' }] }],
			profiles: [
				{ ID: 1001, fields: { email: 'Jane@Example.com', age: '40' }, subprofiles: { Orders: [{ ID: 5001, fields: { contact: 'jane@example.com' } }, { ID: 5002, removed: true, fields: { contact: 'x@example.com' } }] } },
				{ ID: 1002, fields: { email: 'a_b@example.com', age: '17' } },
				{ ID: 1003, fields: { email: 'axb@example.com', age: '9' } },
				{ ID: 1004, fields: { email: 'gone@example.com' }, removed: true },
			],
			generate: { count: 25, firstId: 2000, fields: { email: 'bulk{i}@example.com', age: '{i}' }, subprofiles: { Orders: 1 } },
		},
		{ ID: 2, name: 'Archive', archived: true, fields: [{ ID: 21, name: 'email', type: 'email' }] },
	],
};

let sb;
beforeAll(async () => {
	sb = await startSandbox({ token: 'tok-ACCOUNT', account: ACCOUNT });
});
afterAll(() => sb.close());
beforeEach(() => sb.reset());

async function get(p) {
	const res = await fetch(`${sb.url}${p}${p.includes('?') ? '&' : '?'}access_token=tok-ACCOUNT`);
	return { status: res.status, body: await res.json() };
}
const ids = (body) => body.data.map((r) => r.ID);
const where = (condition) => `fields[]=${encodeURIComponent(condition)}`;

describe('shapes as Copernica documents them', () => {
	test('databases, with fields and collections nested as paged lists, ids as strings', async () => {
		const { status, body } = await get('/v3/databases');
		expect(status).toBe(200);
		expect(body).toMatchObject({ start: 0, limit: 100, count: 2, total: 2 });
		const [customers, archive] = body.data;
		expect(customers).toMatchObject({ ID: '1', name: 'Customers', description: '', archived: false, created: expect.any(String) });
		expect(customers.fields).toMatchObject({ start: 0, count: 2, total: 2 });
		expect(customers.fields.data[0]).toEqual({
			ID: '11', name: 'email', type: 'email', value: '', displayed: true, ordered: false, length: '100', textlines: '0', hidden: false, index: false,
		});
		expect(customers.collections.data[0]).toMatchObject({ ID: '101', name: 'Orders', database: '1', fields: { count: 1 } });
		expect(archive.archived).toBe(true);
	});

	test('fields and collections of a database (by id or name), fields of a collection', async () => {
		expect(ids((await get('/v3/database/1/fields')).body)).toEqual(['11', '12']);
		expect(ids((await get('/v3/database/Customers/collections')).body)).toEqual(['101']);
		expect((await get('/v3/collection/101/fields')).body.data[0]).toMatchObject({ name: 'contact', type: 'email' });
	});

	test('profiles and subprofiles', async () => {
		const profile = (await get(`/v3/database/1/profiles?${where('email==a_b@example.com')}`)).body.data[0];
		expect(profile).toEqual({
			ID: '1002', fields: { email: 'a_b@example.com', age: '17' }, interests: {}, database: '1', secret: expect.stringMatching(/^[0-9a-f]{32}$/),
			created: expect.any(String), modified: expect.any(String), removed: false,
		});
		const subs = (await get('/v3/profile/1001/subprofiles/101')).body;
		expect(subs.data.map((s) => [s.ID, s.profile, s.collection, s.removed])).toEqual([['5001', '1001', '101', false], ['5002', '1001', '101', true]]);
		// A removed record is listed with empty fields.
		expect(subs.data[1].fields).toEqual({});
		expect((await get(`/v3/collection/101/subprofiles?${where('contact==jane@example.com')}`)).body.data.map((s) => s.ID)).toEqual(['5001']);
	});

	test('unknown ids answer "No entity with supplied ID"', async () => {
		for (const p of ['/v3/database/9/fields', '/v3/database/9/profiles', '/v3/collection/9/subprofiles', '/v3/profile/9/subprofiles/101', '/v3/profile/1001/subprofiles/9']) {
			expect(await get(p)).toEqual({ status: 400, body: { error: { message: 'No entity with supplied ID' } } });
		}
	});
});

describe('paging', () => {
	test('start, limit (at most 1000), total, count', async () => {
		const first = (await get('/v3/database/1/profiles?limit=10')).body;
		expect(first).toMatchObject({ start: 0, limit: 10, count: 10, total: 29 });
		const last = (await get('/v3/database/1/profiles?start=20&limit=10&total=false')).body;
		// total=false: no total in the answer (the data arrays come from fetch's realm: compared by content below)
		expect(Object.keys(last).sort()).toEqual(['count', 'data', 'limit', 'start']);
		expect(last).toMatchObject({ start: 20, limit: 10, count: 9 });
		expect(ids(last)).toEqual(['2016', '2017', '2018', '2019', '2020', '2021', '2022', '2023', '2024']);
		expect((await get('/v3/database/1/profiles?limit=5000')).body.limit).toBe(1000);
		expect((await get('/v3/database/1/profiles')).body.limit).toBe(100);
	});

	test('maxLimit makes every list page', async () => {
		sb.setOptions({ maxLimit: 2 });
		expect((await get('/v3/database/1/profiles?limit=1000')).body).toMatchObject({ limit: 2, count: 2, total: 29 });
		expect((await get('/v3/databases?limit=1000&start=1')).body).toMatchObject({ start: 1, limit: 2, count: 1 });
	});
});

describe('fields[] conditions', () => {
	test('==, != and <>, <, >=, all of several', async () => {
		expect(ids((await get(`/v3/database/1/profiles?${where('age==17')}`)).body)).toEqual(['1002', '2017']);
		expect((await get(`/v3/database/1/profiles?${where('age!=17')}&limit=1000`)).body.count).toBe(26);
		expect((await get(`/v3/database/1/profiles?${where('age<>17')}&limit=1000`)).body.count).toBe(26);
		expect(ids((await get(`/v3/database/1/profiles?${where('age<3')}`)).body)).toEqual(['2000', '2001', '2002']);
		expect(ids((await get(`/v3/database/1/profiles?${where('age>=24')}&${where('email=~bulk%')}`)).body)).toEqual(['2024']);
	});

	test('=~ and !~ with % (any run) and _ (one character)', async () => {
		expect(ids((await get(`/v3/database/1/profiles?${where('email=~a_b@%')}`)).body)).toEqual(['1002', '1003']);
		expect(ids((await get(`/v3/database/1/profiles?${where('email=~bulk2_@example.com')}`)).body)).toEqual(['2020', '2021', '2022', '2023', '2024']);
		expect((await get(`/v3/database/1/profiles?${where('email!~bulk%')}`)).body.count).toBe(3);
	});

	test('== compares case-insensitively by default, case-sensitively with fieldsCaseSensitive', async () => {
		expect(ids((await get(`/v3/database/1/profiles?${where('email==jane@example.com')}`)).body)).toEqual(['1001']);
		sb.setOptions({ fieldsCaseSensitive: true });
		expect(ids((await get(`/v3/database/1/profiles?${where('email==jane@example.com')}`)).body)).toEqual([]);
		expect(ids((await get(`/v3/database/1/profiles?${where('email==Jane@Example.com')}`)).body)).toEqual(['1001']);
	});

	test('+ in the query is a space, %2B a plus', async () => {
		sb.setAccount({ databases: [{ ID: 3, name: 'P', fields: [{ name: 'email', type: 'email' }], profiles: [{ ID: 7, fields: { email: 'a+b@example.com' } }] }] });
		expect((await get('/v3/database/3/profiles?fields[]=email==a+b@example.com')).body.count).toBe(0);
		expect((await get('/v3/database/3/profiles?fields[]=email==a%2Bb@example.com')).body.count).toBe(1);
	});

	test('removed records match nothing, unless removedRecordsMatch; ignoreConditions lists everything', async () => {
		expect((await get(`/v3/database/1/profiles?${where('email==gone@example.com')}`)).body.count).toBe(0);
		sb.setOptions({ removedRecordsMatch: true });
		expect((await get(`/v3/database/1/profiles?${where('email==gone@example.com')}`)).body.data).toEqual([
			expect.objectContaining({ ID: '1004', fields: {}, removed: true }),
		]);
		sb.setOptions({ ignoreConditions: true });
		expect((await get(`/v3/database/1/profiles?${where('email==nobody@example.com')}&limit=1000`)).body.count).toBe(29);
	});

	test('a condition on a field the list has not matches nothing; a malformed one is refused', async () => {
		expect((await get(`/v3/database/1/profiles?${where('mail==jane@example.com')}`)).body.count).toBe(0);
		expect(await get(`/v3/database/1/profiles?${where('no operator')}`)).toEqual({ status: 400, body: { error: { message: 'Invalid condition: no operator' } } });
	});

	test('parse and compile', () => {
		expect(parseCondition('email==a==b@example.com')).toEqual({ field: 'email', operator: '==', value: 'a==b@example.com' });
		expect(parseCondition('age <= 5')).toEqual({ field: 'age', operator: '<=', value: ' 5' });
		expect(compileCondition(parseCondition('x=~%.c_m'), { caseSensitive: true })({ x: 'a.com' })).toBe(true);
		expect(likeToRegExp('a.b(c)', true).test('a.b(c)')).toBe(true);
		expect(likeToRegExp('a.b', true).test('axb')).toBe(false);
	});
});

describe('seeding, counts, control API', () => {
	test('counts each kind of call', async () => {
		await get('/v3/databases');
		await get('/v3/database/1/fields');
		await get('/v3/database/1/collections');
		await get('/v3/collection/101/fields');
		await get('/v3/database/1/profiles');
		await get('/v3/collection/101/subprofiles');
		await get('/v3/profile/1001/subprofiles/101');
		expect(sb.counts()).toMatchObject({
			databases: 1, databaseFields: 1, collections: 1, collectionFields: 1, profiles: 1, subprofiles: 1, profileSubprofiles: 1, other: 0,
		});
		// The log keeps the condition, never the token.
		expect(sb.requests.map((r) => r.path).join(' ')).not.toContain('tok-ACCOUNT');
	});

	test('setAccount replaces the account, reset() goes back to the start option', async () => {
		expect(sb.setAccount({ databases: [{ name: 'Only' }] })).toEqual({ databases: 1, archived: 0, collections: 0, profiles: 0, subprofiles: 0 });
		expect((await get('/v3/databases')).body.data.map((d) => d.name)).toEqual(['Only']);
		sb.reset();
		expect((await get('/v3/databases')).body.data.map((d) => d.name)).toEqual(['Customers', 'Archive']);
	});

	test('a bad seed is refused and the account stays as it was', () => {
		expect(() => sb.setAccount({ databases: [{ name: 'X', fields: [{ name: 'a' }], profiles: [{ fields: { b: '1' } }] }] })).toThrow('not one of its fields');
		expect(() => sb.setAccount({ databases: [{ ID: 1, name: 'A' }, { ID: 1, name: 'B' }] })).toThrow('database ID 1 is used twice');
		expect(sb.account.summary()).toMatchObject({ databases: 2, profiles: 29 });
	});

	test('POST /__sandbox/account seeds over HTTP; GET says what is there; the state lists it', async () => {
		const post = await fetch(`${sb.url}/__sandbox/account`, { method: 'POST', body: JSON.stringify({ databases: [{ name: 'Remote', generate: { count: 3 } }] }) });
		expect(await post.json()).toEqual({ databases: 1, archived: 0, collections: 0, profiles: 3, subprofiles: 0 });
		expect(await (await fetch(`${sb.url}/__sandbox/account`)).json()).toMatchObject({ profiles: 3 });
		expect((await (await fetch(`${sb.url}/__sandbox/state`)).json()).account).toMatchObject({ databases: 1 });
		const bad = await fetch(`${sb.url}/__sandbox/account`, { method: 'POST', body: JSON.stringify({ databases: 'x' }) });
		expect(bad.status).toBe(400);
	});

	test('a sandbox without an account has no databases; other calls answer as before', async () => {
		const plain = await startSandbox({ token: 't' });
		try {
			const res = await fetch(`${plain.url}/v3/databases?access_token=t`);
			expect(await res.json()).toEqual({ start: 0, limit: 100, count: 0, data: [], total: 0 });
			const other = await fetch(`${plain.url}/v3/database/1/views?access_token=t`);
			expect(other.status).toBe(404);
			expect(plain.counts()).toMatchObject({ databases: 1, other: 1 });
			expect((await fetch(`${plain.url}/v3/databases`)).status).toBe(400); // no token
		} finally {
			await plain.close();
		}
	});
});
