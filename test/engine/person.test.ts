// Subject Type "Person" in n8n-core against the sandbox's account of issue 13: Create finds the
// person and makes a set (the email request and one per profile and subprofile), with the email
// call on and off and for nobody; Get of the set is pending until every part is available, then
// one bundle, as JSON and as a binary file whose bytes parse to the bundle's shape.
import type { IDataObject, INodeExecutionData, INodeParameters } from 'n8n-workflow';

import { ACCOUNT, PERSON } from '../fixtures/person-account';
import { everythingStoredOf, runNode, startCopernica, TOKEN, type Sandbox } from './copernica';
import { cleanupEngine, getBinaryBuffer } from './harness';

type Account = Sandbox & { setAccount(spec: IDataObject): IDataObject };

const TRIGGER = 'http://127.0.0.1:5678/webhook/abc/copernica-data-request';
const SECRET = 'a-secret-of-at-least-24-characters';
const REPORT = `${TRIGGER}?secret=${SECRET}&ticket=T-7`;

/** Jane's set in the order it is made: the email, then Find Person's order; 1102 is removed. */
const PARTS = [
	{ subjectType: 'email', subject: PERSON },
	{ subjectType: 'profile', subject: '1001', databaseId: '1' },
	{ subjectType: 'subprofile', subject: '1101', databaseId: '1', collectionId: '11' },
	{ subjectType: 'subprofile', subject: '1201', databaseId: '1', collectionId: '12' },
	{ subjectType: 'subprofile', subject: '2201', databaseId: '2', collectionId: '22' },
	{ subjectType: 'profile', subject: '3001', databaseId: '3' },
	{ subjectType: 'subprofile', subject: '3101', databaseId: '3', collectionId: '31' },
];

let sandbox: Account;
beforeAll(async () => {
	sandbox = (await startCopernica({ account: ACCOUNT, fileSize: 3000 })) as Account;
});
afterAll(async () => {
	await sandbox.close();
	await cleanupEngine();
});
beforeEach(() => sandbox.reset());

const createPerson = (subject: string, extra: INodeParameters = {}): INodeParameters => ({
	operation: 'create',
	subjectType: 'person',
	subject,
	...extra,
});
const get = (requestId: string, extra: INodeParameters = {}): INodeParameters => ({ operation: 'get', requestId, returnAs: 'json', ...extra });
const only = (output: INodeExecutionData[] | undefined) => {
	expect(output).toHaveLength(1);
	return output![0];
};
const createdInSandbox = () => [...sandbox.dataRequests.values()].map((r) => ({ type: r.type, target: r.target, report: r.report }));
const makeAllReady = () => {
	for (const id of sandbox.dataRequests.keys()) sandbox.makeReady(id);
};

describe('Create, Subject Type Person', () => {
	it('creates the email request and one per profile and subprofile found; the set id lists them', async () => {
		const { run, output } = await runNode(sandbox, createPerson(PERSON, { report: REPORT }));
		expect(run.error).toBeUndefined();
		const item = only(output);
		expect(item.pairedItem).toEqual({ item: 0 });
		const json = item.json;
		expect(json).toMatchObject({ subjectType: 'person', subject: PERSON, requests: PARTS });
		expect(json).not.toHaveProperty('emailRequest');
		expect(json).not.toHaveProperty('found');
		// The removed subprofile is said, not silently left out.
		expect(json.notRequested).toEqual([{ subjectType: 'subprofile', id: '1102', reason: 'removed' }]);
		const requests = json.requests as IDataObject[];
		const ids = requests.map((r) => r.id as string);
		expect(new Set(ids).size).toBe(7);
		const key = /^person:([A-Za-z0-9_-]+):/.exec(json.id as string)![1];
		expect(json.id).toBe(`person:${key}:${ids.join(',')}:${PERSON}`);
		expect(Object.keys(json)).toEqual(
			expect.arrayContaining(['requestedAt', 'requestReceivedAt', 'dueBy', 'extendedDueBy', 'report']),
		);
		expect(json.report).toBe(`${TRIGGER}?secret=***&ticket=T-7`);

		// Copernica got one create per part, each with a report URL that says which part of which set.
		expect(createdInSandbox()).toEqual(
			PARTS.map((part, index) => ({
				type: part.subjectType,
				target: part.subject,
				report: `${REPORT}&set=${key}&part=${index + 1}&parts=7`,
			})),
		);
		expect(everythingStoredOf(run)).not.toContain(SECRET);
		expect(everythingStoredOf(run)).not.toContain(TOKEN);
	});

	it('makes the set of the profiles and subprofiles, and says so, where the account has no email call', async () => {
		sandbox.setOptions({ emailDataRequest: false });
		const { run, output } = await runNode(sandbox, createPerson(PERSON, { report: REPORT }));
		expect(run.error).toBeUndefined();
		const json = only(output).json;
		expect(json).toMatchObject({ emailRequest: 'not offered by this account', requests: PARTS.slice(1) });
		// Without the email call the profiles are parts 1 to 6 of 6.
		const reports = createdInSandbox().map((r) => /&part=(\d+)&parts=(\d+)$/.exec(r.report as string)!.slice(1).join('/'));
		expect(reports).toEqual(['1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
		expect(sandbox.counts().create).toBe(7);
	});

	it('also answers without the email call when its 404 carries no message at all', async () => {
		sandbox.setOptions({ emailDataRequest: false, errorMessages: false });
		const { output } = await runNode(sandbox, createPerson(PERSON));
		expect(only(output).json).toMatchObject({ emailRequest: 'not offered by this account', requests: PARTS.slice(1) });
	});

	it('answers nobody found with an empty set, not an error; its Get is an empty bundle', async () => {
		sandbox.setOptions({ emailDataRequest: false });
		const { run, output } = await runNode(sandbox, createPerson('nobody@example.com'));
		expect(run.error).toBeUndefined();
		const json = only(output).json;
		expect(json).toMatchObject({ requests: [], found: 'nothing', emailRequest: 'not offered by this account' });
		const got = only((await runNode(sandbox, get(json.id as string))).output).json;
		expect(got).toMatchObject({ id: json.id, status: 'available', info: { type: 'person', id: 'nobody@example.com' }, parts: [] });
	});

	it('with the email call, nobody found is a set of one: the email request', async () => {
		const { output } = await runNode(sandbox, createPerson('nobody@example.com'));
		const json = only(output).json;
		expect(json.requests).toEqual([{ id: expect.any(String), subjectType: 'email', subject: 'nobody@example.com' }]);
		expect(json).not.toHaveProperty('found');
	});

	it('fails the item with Copernica\'s message when a part fails, naming the parts already created', async () => {
		sandbox.addFault({ match: { method: 'POST', path: '/profile/3001/' }, type: 'error', status: 400, message: 'No entity with supplied ID' });
		const { run } = await runNode(sandbox, createPerson(PERSON));
		expect(run.error?.message).toContain('No entity with supplied ID');
		const description = String((run.error as { description?: string }).description);
		expect(description).toContain('profile 3001');
		// The five made before it are listed with their ids.
		const made = [...sandbox.dataRequests.values()];
		expect(made).toHaveLength(5);
		for (const r of made) expect(description).toContain(`${r.type} ${r.target}: ${r.id}`);
	});

	it('with Continue On Fail gives an error item for the failed person and the set for the other', async () => {
		sandbox.addFault({ match: { method: 'POST', path: '/profile/3001/' }, type: 'error', status: 400, message: 'No entity with supplied ID' });
		const { output } = await runNode(
			sandbox,
			{ operation: 'create', subjectType: 'person', subject: '={{ $json.email }}' },
			{ items: [{ email: PERSON }, { email: 'nobody@example.com' }], continueOnFail: true },
		);
		expect(output).toHaveLength(2);
		expect(output![0].json.error).toContain('No entity with supplied ID');
		expect(output![1].json).toMatchObject({ subjectType: 'person', subject: 'nobody@example.com' });
		expect(output!.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
	});

	it('refuses a bad address before any call', async () => {
		const { run } = await runNode(sandbox, createPerson('jane@'));
		expect(run.error?.message).toMatch(/^Item 0: .*not a valid email address/);
		expect(sandbox.requests).toHaveLength(0);
	});
});

describe('Get of a set', () => {
	const createSet = async () => {
		sandbox.setOptions({ readyAfterMs: 3_600_000 });
		const { output } = await runNode(sandbox, createPerson(PERSON));
		return only(output).json;
	};

	it('is pending, with every part\'s status, until every part is available; then one bundle in the item', async () => {
		const set = await createSet();
		const ids = (set.requests as IDataObject[]).map((r) => r.id as string);
		const pending = only((await runNode(sandbox, get(set.id as string))).output).json;
		expect(pending).toEqual({ id: set.id, status: 'pending', parts: ids.map((id) => ({ id, status: 'pending' })) });

		sandbox.makeReady(ids[0]);
		sandbox.makeReady(ids[3]);
		const partly = only((await runNode(sandbox, get(set.id as string))).output).json;
		expect(partly.status).toBe('pending');
		expect((partly.parts as IDataObject[]).map((p) => p.status)).toEqual(
			ids.map((_, i) => (i === 0 || i === 3 ? 'available' : 'pending')),
		);

		makeAllReady();
		const before = sandbox.counts();
		const done = only((await runNode(sandbox, get(set.id as string))).output).json;
		expect(done).toMatchObject({ id: set.id, status: 'available', info: { type: 'person', id: PERSON } });
		const parts = done.parts as IDataObject[];
		// Each part's info as Copernica wrote it (profile ids as numbers).
		expect(parts.map((p) => p.info as IDataObject).map(({ type, id }) => ({ type, id: String(id) }))).toEqual(
			PARTS.map((p) => ({ type: p.subjectType, id: p.subject })),
		);
		expect(parts.map((p) => p.id)).toEqual(ids);
		for (const part of parts) expect(Array.isArray(part.data)).toBe(true);
		// A profile's file starts with its own record: fields, interests and its subprofiles.
		const [profile] = (parts[1].data as IDataObject[][])[0];
		expect(profile).toMatchObject({ ID: '1001', fields: { email: PERSON, firstname: 'Jane', lastname: 'Doe' } });
		expect((profile.subprofiles as IDataObject[]).map((sub) => sub.ID)).toEqual(['1101', '1102', '1201']);
		expect((parts[4].data as IDataObject[][])[0]).toMatchObject([{ ID: '2201', fields: { attendee_email: PERSON } }]);
		// One status check and one download per part.
		const after = sandbox.counts();
		expect(after.status - before.status).toBe(7);
		expect(after.data - before.data).toBe(7);
	});

	it.each(['default', 'filesystem'] as const)('gives one binary file whose bytes are the bundle (%s binary mode)', async (binaryDataMode) => {
		const set = await createSet();
		makeAllReady();
		const { output } = await runNode(sandbox, get(set.id as string, { returnAs: 'binary', binaryPropertyName: 'bundle' }), { binaryDataMode });
		const item = only(output);
		expect(item.json).toMatchObject({ id: set.id, status: 'available', info: { type: 'person', id: PERSON } });
		expect(item.json).not.toHaveProperty('parts.0.data');
		const binary = item.binary!.bundle;
		expect(binary.mimeType).toBe('application/json');
		expect(binary.fileName).toMatch(/^copernica-data-request-person-[A-Za-z0-9_-]+\.json$/);
		const bytes = await getBinaryBuffer(binary);
		const bundle = JSON.parse(bytes.toString('utf8'));
		expect(Object.keys(bundle)).toEqual(['info', 'parts']);
		expect(bundle.info).toEqual({ type: 'person', id: PERSON });
		expect(bundle.parts).toHaveLength(7);
		for (const [index, part] of (bundle.parts as IDataObject[]).entries()) {
			expect(Object.keys(part)).toEqual(['info', 'data']);
			expect(String((part.info as IDataObject).id)).toBe(PARTS[index].subject);
			expect(Array.isArray(part.data)).toBe(true);
		}
		// Each part's bytes went into the bundle unchanged: the same as Get of that one request.
		const firstAlone = only((await runNode(sandbox, get((set.requests as IDataObject[])[1].id as string))).output).json;
		expect(bundle.parts[1].data).toEqual(firstAlone.data);
		expect((item.json.summary as IDataObject).bytes).toBe(bytes.length - Buffer.byteLength(`{"info":${JSON.stringify(bundle.info)},"parts":[`) - 6 - 2);
	});

	it('takes a list of request IDs as a set', async () => {
		const set = await createSet();
		const ids = (set.requests as IDataObject[]).slice(1, 3).map((r) => r.id as string);
		makeAllReady();
		const done = only((await runNode(sandbox, get(ids.join(', ')))).output).json;
		expect(done).toMatchObject({ id: ids.join(','), status: 'available', info: { type: 'person', id: null } });
		expect((done.parts as IDataObject[]).map((p) => p.id)).toEqual(ids);
	});

	it('says "not available" when a part has expired, and fails with Fail If Not Available', async () => {
		const set = await createSet();
		makeAllReady();
		const ids = (set.requests as IDataObject[]).map((r) => r.id as string);
		sandbox.expire(ids[2]);
		const got = only((await runNode(sandbox, get(set.id as string))).output).json;
		expect(got.status).toBe('not available');
		expect((got.parts as IDataObject[])[2]).toEqual({ id: ids[2], status: 'not available' });
		const { run } = await runNode(sandbox, get(set.id as string, { options: { failIfNotAvailable: true } }));
		expect(run.error?.message).toContain(ids[2]);
	});

	it('refuses a cut set id before any call', async () => {
		const { run } = await runNode(sandbox, get('person:abc'));
		expect(run.error?.message).toMatch(/^Item 0: The set ID .* is incomplete/);
		expect(sandbox.requests).toHaveLength(0);
	});
});

describe('Create and Wait, Subject Type Person (the half that runs in the engine; the rest: test/e2e/person.e2e.test.js)', () => {
	it('creates every part with the resume URL, its check value, set and part as report, and ends waiting', async () => {
		sandbox.setOptions({ readyAfterMs: Infinity });
		const { run, output } = await runNode(sandbox, { operation: 'createAndWait', subjectType: 'person', subject: PERSON, options: {} });
		expect(run.error).toBeUndefined();
		expect(run.status).toBe('waiting');
		const pending = only(output).json;
		expect(pending).toMatchObject({ subjectType: 'person', subject: PERSON, status: 'pending', requests: PARTS, waitingUntil: run.waitTill!.toISOString() });
		expect(pending).not.toHaveProperty('report');
		const key = (pending.id as string).split(':')[1];
		const reports = createdInSandbox().map((r) => r.report as string);
		const check = new URL(reports[0]).searchParams.get('copernica_check')!;
		expect(reports).toEqual(PARTS.map((_, i) => `${run.resumeUrl}?copernica_check=${check}&set=${key}&part=${i + 1}&parts=7`));
		expect(everythingStoredOf(run)).not.toContain(check);
		expect(sandbox.counts()).toMatchObject({ create: 7, status: 0, data: 0 });
	});

	it('does not wait when there is nothing to wait for: the empty bundle at once', async () => {
		sandbox.setOptions({ emailDataRequest: false });
		const { run, output } = await runNode(sandbox, { operation: 'createAndWait', subjectType: 'person', subject: 'nobody@example.com', returnAs: 'json', options: {} });
		expect(run.status).not.toBe('waiting');
		expect(run.waitTill).toBeUndefined();
		expect(only(output).json).toMatchObject({
			subjectType: 'person',
			requests: [],
			found: 'nothing',
			status: 'available',
			info: { type: 'person', id: 'nobody@example.com' },
			parts: [],
		});
	});
});
