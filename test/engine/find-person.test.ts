// Find Person in n8n-core against the sandbox's account: 3 databases (one archived), 5 collections,
// a person with 2 profiles in 2 databases and 4 subprofiles, 1 subprofile found only by its own
// email field, 2,500 other profiles, tricky addresses, paging, nobody found; and the API calls.
import { LoadOptionsContext } from 'n8n-core';
import type {
	ICredentialDataDecryptedObject,
	IDataObject,
	IHttpRequestOptions,
	INode,
	INodeExecutionData,
	INodeParameters,
	IWorkflowExecuteAdditionalData,
} from 'n8n-workflow';
import { Workflow } from 'n8n-workflow';

import { CopernicaApi } from '../../credentials/CopernicaApi.credentials';
import { CopernicaDataRequest } from '../../nodes/Copernica/CopernicaDataRequest.node';
import { everythingStoredOf, NODE_TYPE, runNode, startCopernica, TOKEN, type Sandbox } from './copernica';
import { cleanupEngine } from './harness';
import { ACCOUNT, PERSON } from '../fixtures/person-account';

type Account = Sandbox & { setAccount(spec: IDataObject): IDataObject };

/** What Jane has, in the order Find Person gives it: database, collection, profile, subprofile. */
const JANE = [
	{ subjectType: 'profile', id: '1001', databaseId: '1', databaseName: 'Customers', matchedField: 'email', archived: false, removed: false },
	{ subjectType: 'subprofile', id: '1101', databaseId: '1', collectionId: '11', collectionName: 'Orders', profileId: '1001', matchedField: 'contact_email', archived: false, removed: false },
	{ subjectType: 'subprofile', id: '1102', databaseId: '1', collectionId: '11', collectionName: 'Orders', profileId: '1001', matchedField: null, archived: false, removed: true },
	{ subjectType: 'subprofile', id: '1201', databaseId: '1', collectionId: '12', collectionName: 'Tickets', profileId: '1001', matchedField: null, archived: false, removed: false },
	{ subjectType: 'subprofile', id: '2201', databaseId: '2', databaseName: 'Newsletter', collectionId: '22', collectionName: 'Events', profileId: '2001', matchedField: 'attendee_email', archived: false, removed: false },
	{ subjectType: 'profile', id: '3001', databaseId: '3', databaseName: 'Old CRM', matchedField: 'email', archived: true, removed: false },
	{ subjectType: 'subprofile', id: '3101', databaseId: '3', collectionId: '31', collectionName: 'Notes', profileId: '3001', matchedField: null, archived: true, removed: false },
];

/** The calls a search of this account costs: the structure, one search per email field, a profile's subprofiles per collection. */
const STRUCTURE_CALLS = { databases: 1, databaseFields: 3, collections: 3, collectionFields: 5 };
const SEARCH_CALLS = { profiles: 4, subprofiles: 2 };

let sandbox: Account;
beforeAll(async () => {
	sandbox = (await startCopernica({ account: ACCOUNT })) as Account;
});
afterAll(async () => {
	await sandbox.close();
	await cleanupEngine();
});
beforeEach(() => sandbox.reset());

const find = (email: string, options: INodeParameters = {}): INodeParameters => ({ operation: 'findPerson', email, options });
const json = (output: INodeExecutionData[] | undefined) => (output ?? []).map((item) => item.json);
const searchCalls = () => {
	const { databases, databaseFields, collections, collectionFields, profiles, subprofiles, profileSubprofiles } = sandbox.counts();
	return { databases, databaseFields, collections, collectionFields, profiles, subprofiles, profileSubprofiles };
};
const total = (calls: Record<string, number>) => Object.values(calls).reduce((sum, n) => sum + n, 0);

describe('Find Person', () => {
	it('finds both profiles, their 4 subprofiles and the subprofile that only its own field ties to her, in a stable order', async () => {
		const { run, output } = await runNode(sandbox, find(PERSON));
		expect(run.error).toBeUndefined();
		expect(json(output)).toMatchObject(JANE);
		expect(output).toHaveLength(JANE.length);
		for (const item of output!) {
			expect(item.pairedItem).toEqual({ item: 0 });
			expect(item.json.email).toBe(PERSON);
		}
		const [profile, order, removedOrder] = json(output);
		expect(profile.fields).toEqual({ email: PERSON, firstname: 'Jane', lastname: 'Doe' });
		expect(order.fields).toEqual({ order_no: 'A-1', contact_email: PERSON });
		// A removed subprofile is reported, with the empty fields Copernica lists it with.
		expect(removedOrder.fields).toEqual({});
		// John's own records are not hers.
		expect(json(output).map((item) => item.id)).not.toEqual(expect.arrayContaining(['1002', '1103', '2001', '2101', '2202']));

		const calls = searchCalls();
		expect(calls).toEqual({ ...STRUCTURE_CALLS, ...SEARCH_CALLS, profileSubprofiles: 3 });
		expect(total(calls)).toBe(21);
		// Nothing else was asked of Copernica, and the token is nowhere in what n8n keeps.
		expect(sandbox.counts()).toMatchObject({ create: 0, other: 0 });
		expect(everythingStoredOf(run)).not.toContain(TOKEN);
	});

	it('sends the condition as "field==value", percent-encoded, and pages with start, limit 1000 and total', async () => {
		await runNode(sandbox, find("o'brien+test@example.com"));
		const searches = sandbox.requests.filter((r) => r.kind === 'profiles').map((r) => r.path);
		expect(searches).toContain(`/v3/database/1/profiles?fields[]=email%3D%3Do%27brien%2Btest%40example.com&start=0&limit=1000&total=true`);
	});

	it('gives the same answer against a server whose == is case-sensitive', async () => {
		sandbox.setOptions({ fieldsCaseSensitive: true });
		const { output } = await runNode(sandbox, find(PERSON));
		expect(json(output)).toMatchObject(JANE);
	});

	it('searches once more with the domain in lower case when it was typed otherwise', async () => {
		const { output } = await runNode(sandbox, find('jane.doe@EXAMPLE.com'));
		expect(json(output)).toMatchObject(JANE);
		expect(output!.every((item) => item.json.email === 'jane.doe@EXAMPLE.com')).toBe(true);
		expect(searchCalls()).toMatchObject({ profiles: 8, subprofiles: 4, profileSubprofiles: 3 });
		sandbox.reset();
		sandbox.setOptions({ fieldsCaseSensitive: true });
		expect(json((await runNode(sandbox, find('jane.doe@EXAMPLE.com'))).output)).toMatchObject(JANE);
	});

	it('outputs one item saying so when nobody is found', async () => {
		const { run, output } = await runNode(sandbox, find('nobody@example.com'));
		expect(run.error).toBeUndefined();
		expect(json(output)).toEqual([{ email: 'nobody@example.com', found: 'nothing', databasesSearched: 3, emailFieldsSearched: 6 }]);
		expect(output![0].pairedItem).toEqual({ item: 0 });
		expect(searchCalls()).toEqual({ ...STRUCTURE_CALLS, ...SEARCH_CALLS, profileSubprofiles: 0 });
	});

	it('follows every list to its end when Copernica gives 2 records per page', async () => {
		sandbox.setOptions({ maxLimit: 2 });
		const { output } = await runNode(sandbox, find(PERSON));
		expect(json(output)).toMatchObject(JANE);
		// 3 databases on 2 pages; Customers' 3 fields on 2 pages; Orders' 2 subprofiles of Jane on 1 page (total 2).
		const calls = searchCalls();
		expect(calls.databases).toBe(2);
		expect(calls.databaseFields).toBe(2 + 2 + 1);
		expect(calls.collectionFields).toBe(1 + 1 + 1 + 1 + 1);
	});

	it('pages through 2,500 profiles that share an address, and reads their subprofiles collection-wide', async () => {
		sandbox.setAccount({
			databases: [
				{
					ID: 7,
					name: 'Shop',
					fields: [{ ID: 701, name: 'email', type: 'email' }],
					collections: [{ ID: 71, name: 'Orders', fields: [{ ID: 711, name: 'order_no' }] }],
					generate: { count: 2500, firstId: 70000, fields: { email: 'info@shop.example' }, subprofiles: { Orders: 1 } },
					profiles: [{ ID: 69999, fields: { email: 'someone@shop.example' }, subprofiles: { Orders: [{ ID: 1, fields: { order_no: 'not theirs' } }] } }],
				},
			],
		});
		const { run, output } = await runNode(sandbox, find('info@shop.example'));
		expect(run.error).toBeUndefined();
		const profiles = json(output).filter((item) => item.subjectType === 'profile');
		const subprofiles = json(output).filter((item) => item.subjectType === 'subprofile');
		expect(profiles).toHaveLength(2500);
		expect(subprofiles).toHaveLength(2500);
		expect(profiles.map((item) => Number(item.id))).toEqual(Array.from({ length: 2500 }, (_, i) => 70000 + i));
		expect(subprofiles.some((item) => item.profileId === '69999')).toBe(false);
		expect(new Set(subprofiles.map((item) => item.profileId)).size).toBe(2500);
		// 3 pages of 1000, 1000 and 500 profiles; the collection's 2,501 subprofiles in 3 pages
		// rather than 2,500 calls, one per profile.
		expect(searchCalls()).toMatchObject({ profiles: 3, subprofiles: 3, profileSubprofiles: 0 });
	});

	it('asks per profile when reading the collection would cost more', async () => {
		sandbox.setAccount({
			databases: [
				{
					ID: 7,
					name: 'Shop',
					fields: [{ ID: 701, name: 'email', type: 'email' }],
					collections: [{ ID: 71, name: 'Orders', fields: [{ ID: 711, name: 'order_no' }] }],
					generate: { count: 12, firstId: 70000, fields: { email: 'info@shop.example' }, subprofiles: { Orders: 2 } },
					// 15,000 orders of someone else: 15 pages, more than 12 calls.
					profiles: [{ ID: 69999, fields: { email: 'big@shop.example' }, subprofiles: { Orders: Array.from({ length: 15000 }, () => ({})) } }],
				},
			],
		});
		const { output } = await runNode(sandbox, find('info@shop.example'));
		expect(json(output).filter((item) => item.subjectType === 'subprofile')).toHaveLength(24);
		expect(searchCalls()).toMatchObject({ profiles: 1, subprofiles: 1, profileSubprofiles: 12 });
	});

	it('matches tricky addresses only to themselves', async () => {
		const tricky = [
			"o'brien+test@example.com",
			'obrien+test@example.com',
			"o'brien test@example.com",
			'a_b@example.com',
			'axb@example.com',
			'100%@example.com',
			'100x@example.com',
			'jane.doe@Example.COM',
			'JANE.DOE@example.com',
			'mary@example.com',
			'jöhn@bücher.de',
			'a&b=c@example.com',
			'x#y@example.com',
		];
		const account = {
			databases: [
				{
					ID: 5,
					name: 'Tricky',
					fields: [{ ID: 501, name: 'email', type: 'email' }],
					profiles: tricky.map((email, i) => ({ ID: 5001 + i, fields: { email } })),
				},
			],
		};
		const idOf = (email: string) => String(5001 + tricky.indexOf(email));
		const cases: Array<[string, string[], string[]]> = [
			// [searched for, found where == ignores case, found where == is case-sensitive]
			["o'brien+test@example.com", [idOf("o'brien+test@example.com")], [idOf("o'brien+test@example.com")]],
			['a_b@example.com', [idOf('a_b@example.com')], [idOf('a_b@example.com')]],
			['100%@example.com', [idOf('100%@example.com')], [idOf('100%@example.com')]],
			// Exact before the "@": JANE.DOE is someone else's spelling. A case-sensitive server
			// cannot find Example.COM from example.com (README: the limit of an undocumented ==).
			['jane.doe@example.com', [idOf('jane.doe@Example.COM')], []],
			['mary@EXAMPLE.com', [idOf('mary@example.com')], [idOf('mary@example.com')]],
			['jöhn@BÜCHER.de', [idOf('jöhn@bücher.de')], [idOf('jöhn@bücher.de')]],
			['a&b=c@example.com', [idOf('a&b=c@example.com')], [idOf('a&b=c@example.com')]],
			['x#y@example.com', [idOf('x#y@example.com')], [idOf('x#y@example.com')]],
		];
		for (const caseSensitive of [false, true]) {
			sandbox.reset();
			sandbox.setAccount(account);
			sandbox.setOptions({ fieldsCaseSensitive: caseSensitive });
			const items = cases.map(([email]) => ({ email }));
			const { output } = await runNode(sandbox, { operation: 'findPerson', email: '={{ $json.email }}' }, { items });
			cases.forEach(([email, insensitive, sensitive], index) => {
				const mine = output!.filter((item) => (item.pairedItem as { item: number }).item === index).map((item) => item.json);
				const expected = caseSensitive ? sensitive : insensitive;
				if (expected.length === 0) expect(mine).toEqual([expect.objectContaining({ email, found: 'nothing' })]);
				else expect({ email, ids: mine.map((item) => item.id) }).toEqual({ email, ids: expected });
			});
		}
	});

	it('reads the structure once per run, however many items', async () => {
		const items = [{ email: PERSON }, { email: 'nobody@example.com' }, { email: 'john.smith@example.com' }];
		const { output } = await runNode(sandbox, { operation: 'findPerson', email: '={{ $json.email }}' }, { items });
		const byItem = [0, 1, 2].map((index) => output!.filter((item) => (item.pairedItem as { item: number }).item === index));
		expect(byItem[0].map((item) => item.json)).toMatchObject(JANE);
		expect(byItem[1].map((item) => item.json.found)).toEqual(['nothing']);
		// John's, with the webinar subprofile he registered Jane in: it is a subprofile of his profile.
		expect(byItem[2].map((item) => item.json.id)).toEqual(['1002', '1103', '2001', '2101', '2201', '2202']);
		expect(byItem[2].map((item) => item.json.matchedField)).toEqual(['email', null, 'email', null, null, 'attendee_email']);
		expect(searchCalls()).toMatchObject({ ...STRUCTURE_CALLS, profiles: 12, subprofiles: 6 });
	});

	it('limits the search to the chosen databases', async () => {
		const { output } = await runNode(sandbox, find(PERSON, { databaseIds: ['3'] }));
		expect(json(output)).toMatchObject(JANE.filter((item) => item.databaseId === '3'));
		expect(searchCalls()).toEqual({
			databases: 1,
			databaseFields: 1,
			collections: 1,
			collectionFields: 1,
			profiles: 1,
			subprofiles: 0,
			profileSubprofiles: 1,
		});
	});

	it('fails the item when a chosen database is not in the account, before searching anything', async () => {
		const { run } = await runNode(sandbox, find(PERSON, { databaseIds: ['1', '99'] }));
		expect(run.error?.message).toBe('The Copernica account has no database 99 (chosen under Databases)');
		expect(searchCalls()).toMatchObject({ databases: 1, databaseFields: 0, profiles: 0 });
	});

	it('leaves the fields out when asked to', async () => {
		const { output } = await runNode(sandbox, find(PERSON, { includeFields: false }));
		expect(json(output)).toMatchObject(JANE);
		expect(output!.some((item) => 'fields' in item.json)).toBe(false);
	});

	it('reports a removed profile that Copernica still finds by its former address', async () => {
		sandbox.setAccount({
			databases: [
				{
					ID: 8,
					name: 'Members',
					fields: [{ ID: 801, name: 'email', type: 'email' }],
					profiles: [
						{ ID: 8001, fields: { email: PERSON }, removed: true },
						{ ID: 8002, fields: { email: 'other@example.com' }, removed: true },
					],
				},
			],
		});
		// As Copernica empties a removed profile, a search does not find it ...
		expect(json((await runNode(sandbox, find(PERSON))).output)).toEqual([expect.objectContaining({ found: 'nothing' })]);
		// ... but where the server still matches former values, the match is reported, flagged.
		sandbox.setOptions({ removedRecordsMatch: true });
		expect(json((await runNode(sandbox, find(PERSON))).output)).toEqual([
			{ subjectType: 'profile', id: '8001', databaseId: '8', databaseName: 'Members', matchedField: 'email', archived: false, removed: true, fields: {}, email: PERSON },
		]);
	});

	it('reports nobody else\'s records when a server ignores the condition', async () => {
		sandbox.setAccount({
			databases: [
				{
					ID: 8,
					name: 'Members',
					fields: [{ ID: 801, name: 'email', type: 'email' }],
					profiles: [
						{ ID: 8001, fields: { email: PERSON } },
						{ ID: 8002, fields: { email: 'other@example.com' } },
						{ ID: 8003, fields: { email: 'gone@example.com' }, removed: true },
					],
				},
			],
		});
		sandbox.setOptions({ ignoreConditions: true });
		const { output } = await runNode(sandbox, find(PERSON));
		// The removed record cannot be checked (no fields) and the answer shows the filter was not applied.
		expect(json(output).map((item) => item.id)).toEqual(['8001']);
	});

	it('with Continue On Fail, one error item per bad input item; without, nothing is sent', async () => {
		const items = [{ email: PERSON }, { email: 'not-an-email' }, { email: 'nobody@example.com' }];
		const parameters = { operation: 'findPerson', email: '={{ $json.email }}' };
		const { output } = await runNode(sandbox, parameters, { items, continueOnFail: true });
		expect(output!.map((item) => [(item.pairedItem as { item: number }).item, item.json.error ?? item.json.found ?? item.json.id])).toEqual([
			...JANE.map((match) => [0, match.id]),
			[1, 'Item 1: "not-an-email" is not a valid email address: it has no "@"'],
			[2, 'nothing'],
		]);
		sandbox.reset();
		const failed = await runNode(sandbox, parameters, { items });
		expect(failed.run.error?.message).toBe('Item 1: "not-an-email" is not a valid email address: it has no "@"');
		expect(total(searchCalls())).toBe(0);
	});

	it('says so when no database has a field of type Email', async () => {
		sandbox.setAccount({ databases: [{ ID: 9, name: 'Plain', fields: [{ name: 'mail' }], profiles: [{ fields: { mail: PERSON } }] }] });
		const { run } = await runNode(sandbox, find(PERSON));
		expect(run.error?.message).toBe('No field of type Email in any database or collection of this account');
	});

	it('fails with Copernica\'s words when a call fails, and keeps the token out', async () => {
		sandbox.addFault({ match: { kind: 'profiles' }, type: 'error', status: 400, message: 'Database is locked', times: 1 });
		const { run } = await runNode(sandbox, find(PERSON), { continueOnFail: false });
		expect(run.error?.message).toBe('Database is locked');
		expect(everythingStoredOf(run)).not.toContain(TOKEN);
	});
});

describe('Find Person: the editor\'s list of databases', () => {
	/** Runs the node's getDatabases as n8n's editor does: n8n-core's load options context. */
	async function loadDatabases(): Promise<unknown> {
		const type = new CopernicaDataRequest();
		const node: INode = {
			id: 'find-person',
			name: 'Copernica',
			type: NODE_TYPE,
			typeVersion: 1,
			position: [0, 0],
			parameters: { operation: 'findPerson', email: '' },
			credentials: { copernicaApi: { id: 'test-copernicaApi', name: 'copernicaApi' } },
		};
		const nodeTypes = {
			getByName: () => type,
			getByNameAndVersion: () => type,
			getKnownTypes: () => ({}),
		};
		const workflow = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes });
		const credential = new CopernicaApi();
		const data: ICredentialDataDecryptedObject = { apiVersion: 'v3', accessToken: TOKEN, baseUrl: sandbox.url, allowUnencryptedHttp: false };
		const additionalData = {
			currentNodeParameters: node.parameters,
			credentialsHelper: {
				getParentTypes: () => [],
				getDecrypted: async () => ({ ...data }),
				authenticate: async (credentials: ICredentialDataDecryptedObject, _type: string, options: IHttpRequestOptions) =>
					await (credential.authenticate as (c: ICredentialDataDecryptedObject, o: IHttpRequestOptions) => Promise<IHttpRequestOptions>)(credentials, options),
				preAuthentication: async () => undefined,
				getCredentialsProperties: () => credential.properties,
			},
		} as unknown as IWorkflowExecuteAdditionalData;
		const context = new LoadOptionsContext(workflow, node, additionalData, 'options.databaseIds');
		return await type.methods.loadOptions.getDatabases.call(context);
	}

	it('lists the account\'s databases by name, archived ones marked', async () => {
		expect(await loadDatabases()).toEqual([
			{ name: 'Customers', value: '1', description: 'ID 1' },
			{ name: 'Newsletter', value: '2', description: 'ID 2' },
			{ name: 'Old CRM (archived)', value: '3', description: 'ID 3' },
		]);
		expect(sandbox.counts().databases).toBe(1);
	});
});
