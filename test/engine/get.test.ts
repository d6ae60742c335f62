import { getBinaryBuffer, cleanupEngine } from './harness';
import { runNode, startCopernica, type Sandbox } from './copernica';

let sandbox: Sandbox;
beforeAll(async () => {
	sandbox = await startCopernica();
});
afterAll(async () => {
	await sandbox.close();
	await cleanupEngine();
});
beforeEach(() => {
	sandbox.reset();
	sandbox.clearFaults();
	sandbox.setOptions({
		readyAfterMs: 0,
		statusEndpoint: true,
		dataEndpoint: true,
		statusExtras: true,
		notReadyText: 'Data not available (yet)',
		fileSize: 20000,
		expireAfterMs: Infinity,
	});
});

async function create(email: string): Promise<string> {
	const { output } = await runNode(sandbox, { operation: 'create', subjectType: 'email', subject: email });
	return output![0].json.id as string;
}

const get = (requestId: string, extra = {}) => ({ operation: 'get', requestId, returnAs: 'json', ...extra });

describe('Get', () => {
	it('says "pending" while the file is assembled, with the bytes so far', async () => {
		sandbox.setOptions({ readyAfterMs: 3_600_000 });
		const id = await create('wait@example.com');
		const { run, output } = await runNode(sandbox, get(id));
		expect(run.error).toBeUndefined();
		expect(output![0].json).toMatchObject({ id, status: 'pending' });
		expect(typeof output![0].json.availableBytes).toBe('number');
		expect(output![0].json.data).toBeUndefined();
	});

	it("returns the file's info and data as JSON once it is available", async () => {
		const id = await create("o'brien+test@example.com");
		const { output } = await runNode(sandbox, get(id));
		const json = output![0].json;
		expect(json).toMatchObject({ id, status: 'available', info: { type: 'email', id: "o'brien+test@example.com" } });
		expect(Array.isArray(json.data)).toBe(true);
		expect((json.data as unknown[]).length).toBeGreaterThan(0);
		// The summary is there in JSON mode too
		expect(json.summary).toMatchObject({ groups: (json.data as unknown[]).length });
		const counts = sandbox.counts();
		expect(counts.status).toBe(1);
		expect(counts.data).toBe(1);
	});

	it('by default keeps the file in the binary store, named after the request, and only a summary in the item', async () => {
		const id = await create('minimal@example.com');
		const { output } = await runNode(sandbox, { operation: 'get', requestId: id, binaryPropertyName: '' });
		const item = output![0];
		expect(item.json.data).toBeUndefined();
		expect(item.json.summary).toMatchObject({ groups: expect.any(Number) });
		// An empty "Put Output File in Field" falls back to "data"
		expect(Object.keys(item.binary!)).toEqual(['data']);
		expect(item.binary!.data.fileName).toBe(`copernica-data-request-${id}.json`);
	});

	it.each(['default', 'filesystem'] as const)(
		'returns the file as a binary file with a summary (%s binary mode)',
		async (binaryDataMode) => {
			sandbox.setOptions({ fileSize: 300_000 });
			const id = await create('binary@example.com');
			const { output } = await runNode(sandbox, get(id, { returnAs: 'binary', binaryPropertyName: 'file' }), {
				binaryDataMode,
			});
			const item = output![0];
			expect(item.json).toMatchObject({ id, status: 'available', info: { type: 'email', id: 'binary@example.com' } });
			const binary = item.binary!.file;
			expect(binary).toMatchObject({ fileName: `copernica-data-request-${id}.json`, mimeType: 'application/json' });
			// filesystem mode keeps only a reference in the item; default mode holds the bytes
			expect(Boolean(binary.id)).toBe(binaryDataMode === 'filesystem');
			const bytes = await getBinaryBuffer(binary);
			const file = JSON.parse(bytes.toString('utf8'));
			expect(file.info.id).toBe('binary@example.com');
			expect(item.json.summary).toEqual({
				bytes: bytes.length,
				groups: file.data.length,
				entries: file.data.reduce((sum: number, group: unknown[]) => sum + group.length, 0),
				entriesPerGroup: file.data.map((group: unknown[]) => group.length),
			});
			expect(bytes.length).toBeGreaterThanOrEqual(300_000);
		},
	);

	describe('on servers with other response forms', () => {
		it('uses /data when there is no /status', async () => {
			sandbox.setOptions({ statusEndpoint: false, readyAfterMs: 3_600_000 });
			const id = await create('nostatus@example.com');
			expect((await runNode(sandbox, get(id))).output![0].json).toEqual({ id, status: 'pending' });
			sandbox.makeReady(id);
			const { output } = await runNode(sandbox, get(id));
			expect(output![0].json).toMatchObject({ status: 'available', info: { id: 'nostatus@example.com' } });
		});

		it.each(['Data not available (yet)', 'Data not available (yet).'])(
			'uses the bare GET when there is neither /status nor /data ("%s")',
			async (notReadyText) => {
				sandbox.setOptions({ statusEndpoint: false, dataEndpoint: false, readyAfterMs: 3_600_000, notReadyText });
				const id = await create('bare@example.com');
				expect((await runNode(sandbox, get(id))).output![0].json).toEqual({ id, status: 'pending' });
				sandbox.makeReady(id);
				const json = (await runNode(sandbox, get(id))).output![0].json;
				expect(json).toMatchObject({ status: 'available', info: { id: 'bare@example.com' } });
				const binary = (await runNode(sandbox, get(id, { returnAs: 'binary' }))).output![0];
				expect(binary.json.summary).toMatchObject({ groups: (json.data as unknown[]).length });
			},
		);

		it('works when /status has no optional members', async () => {
			sandbox.setOptions({ statusExtras: false, readyAfterMs: 3_600_000 });
			const id = await create('plain@example.com');
			expect((await runNode(sandbox, get(id))).output![0].json).toEqual({ id, status: 'pending' });
		});
	});

	it('answers "not available" for an expired file and for an unknown id', async () => {
		const id = await create('expired@example.com');
		sandbox.expire(id);
		const expired = (await runNode(sandbox, get(id))).output![0].json;
		expect(expired).toMatchObject({ id, status: 'not available' });
		expect(expired.message).toContain('unknown, or the file has expired');
		const unknown = (await runNode(sandbox, get('424242424'))).output![0].json;
		expect(unknown).toMatchObject({ id: '424242424', status: 'not available' });
	});

	it('with "Fail If Not Available": an unknown id fails the item, with Continue On Fail the error is its output', async () => {
		const parameters = get('424242424', { options: { failIfNotAvailable: true } });
		const { run } = await runNode(sandbox, parameters);
		expect(run.error?.message).toBe('Data request 424242424: Copernica has no file for this ID: the ID is unknown, or the file has expired');
		const { output } = await runNode(sandbox, parameters, { continueOnFail: true });
		expect(output![0]).toMatchObject({ json: { error: run.error?.message }, pairedItem: { item: 0 } });
		// A pending file is not "not available": no error
		sandbox.setOptions({ readyAfterMs: 3_600_000 });
		const id = await create('later@example.com');
		expect((await runNode(sandbox, get(id, { options: { failIfNotAvailable: true } }))).output![0].json.status).toBe('pending');
	});

	describe('"not available" only on evidence: every combination of /status, /data and the bare form', () => {
		const forms = [true, false].flatMap((statusEndpoint) =>
			[true, false].flatMap((dataEndpoint) => [true, false].map((bareEndpoint) => ({ statusEndpoint, dataEndpoint, bareEndpoint }))),
		);
		const name = (f: (typeof forms)[number]) =>
			Object.entries(f).map(([k, v]) => `${k.replace('Endpoint', '')} ${v ? 'yes' : 'no'}`).join(', ');
		describe.each([true, false])('error answers with messages: %s', (errorMessages) => {
			it.each(forms.map((f) => [name(f), f] as const))('%s', async (_name, form) => {
				sandbox.setOptions({ ...form, errorMessages, readyAfterMs: 3_600_000 });
				const id = await create('evidence@example.com');
				// While the file is built: never "not available"
				expect((await runNode(sandbox, get(id))).output![0].json.status).toBe('pending');
				// An unknown id: "not available" only when Copernica says so
				const evidence = form.statusEndpoint || (errorMessages && (form.dataEndpoint || form.bareEndpoint));
				expect((await runNode(sandbox, get('424242424'))).output![0].json.status).toBe(evidence ? 'not available' : 'pending');
				// Ready: the file, wherever the server offers it
				sandbox.makeReady(id);
				const ready = (await runNode(sandbox, get(id))).output![0].json;
				expect(ready.status).toBe(form.dataEndpoint || form.bareEndpoint ? 'available' : 'pending');
			});
		});
	});

	it('a download that breaks off part-way is dropped and asked for again as a whole', async () => {
		sandbox.setOptions({ fileSize: 200_000 });
		const id = await create('cut@example.com');
		sandbox.addFault({ type: 'cut-off', afterBytes: 50_000, times: 1, match: { kind: 'data' } });
		const { run, output } = await runNode(sandbox, get(id, { returnAs: 'binary' }));
		expect(run.error).toBeUndefined();
		const bytes = await getBinaryBuffer(output![0].binary!.data);
		expect(JSON.parse(bytes.toString('utf8')).info.id).toBe('cut@example.com');
		expect(sandbox.counts().data).toBe(2);

		sandbox.addFault({ type: 'cut-off', afterBytes: 50_000, times: Infinity, match: { kind: 'data' } });
		const failed = await runNode(sandbox, get(id, { returnAs: 'binary', options: { retries: 1 } }));
		expect(failed.run.error?.message).toMatch(/^The download of the file broke off after \d+ bytes/);
		expect(failed.run.error?.description).toContain('Tried 2 times');
		expect(sandbox.counts().data).toBe(2 + 2);
	});

	it('refuses an empty or malformed request id before any call', async () => {
		const { run } = await runNode(sandbox, get('  '));
		expect(run.error?.message).toBe('Item 0: The request ID is empty');
		const { output } = await runNode(sandbox, get('={{ $json.id }}'), {
			items: [{ id: '../identity' }, { id: '' }],
			continueOnFail: true,
		});
		expect(output!.map((item) => item.json.error)).toEqual([
			'Item 0: The request ID "../identity" contains characters a Copernica id never has: use the "id" that the Create operation returned',
			'Item 1: The request ID is empty',
		]);
		expect(sandbox.requests).toHaveLength(0);
	});
});
