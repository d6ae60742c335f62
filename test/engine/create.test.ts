import { gdprDeadlines } from '../../nodes/Copernica/helpers/dates';
import { dataRequestOf, runNode, startCopernica, type Sandbox } from './copernica';
import { cleanupEngine } from './harness';

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
	sandbox.setOptions({ idStyle: 'x-created', idFormat: 'numeric' });
});

const createEmail = (email: string, report = '') => ({ operation: 'create', subjectType: 'email', subject: email, report });

describe('Create', () => {
	it('creates a data request for an email address and returns id, subject and GDPR due date', async () => {
		const before = Date.now();
		const { run, output } = await runNode(sandbox, createEmail('someone@example.com'));
		expect(run.error).toBeUndefined();
		expect(output).toHaveLength(1);
		const json = output![0].json;
		expect(json).toMatchObject({ subjectType: 'email', subject: 'someone@example.com', report: null });
		expect(dataRequestOf(sandbox, json.id as string)).toMatchObject({ type: 'email', target: 'someone@example.com' });
		const requestedAt = new Date(json.requestedAt as string);
		expect(requestedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
		// Without "Request Received At" the request counts as received now
		expect(json.requestReceivedAt).toBe(json.requestedAt);
		const { dueBy, extendedDueBy } = gdprDeadlines(requestedAt, 'America/New_York'); // n8n's default time zone
		expect({ dueBy: json.dueBy, extendedDueBy: json.extendedDueBy }).toEqual({
			dueBy: dueBy.toISOString(),
			extendedDueBy: extendedDueBy.toISOString(),
		});
		expect(output![0].pairedItem).toEqual({ item: 0 });
		expect(sandbox.counts().create).toBe(1);
	});

	it('counts the deadline from "Request Received At", to the end of the day, in the workflow\'s time zone', async () => {
		const parameters = { ...createEmail('received@example.com'), options: { requestReceivedAt: '2026-01-31T23:30:00.000Z' } };
		const { output } = await runNode(sandbox, parameters, { timezone: 'Europe/Amsterdam' });
		// 1 February in Amsterdam: due at the end of 1 March, extended to the end of 1 May (local time)
		expect(output![0].json).toMatchObject({
			requestReceivedAt: '2026-01-31T23:30:00.000Z',
			dueBy: '2026-03-01T22:59:59.999Z',
			extendedDueBy: '2026-05-01T21:59:59.999Z',
		});
		expect(output![0].json.requestedAt).not.toBe('2026-01-31T23:30:00.000Z');
		const bad = await runNode(sandbox, { ...parameters, options: { requestReceivedAt: 'yesterday-ish' } });
		expect(bad.run.error?.message).toBe('Item 0: Request Received At "yesterday-ish" is not a date and time');
		expect(sandbox.counts().create).toBe(1);
	});

	it.each([
		['profile', 'subject', '4711'],
		['subprofile', 'subject', '815'],
	])('creates a data request for a %s', async (subjectType, parameter, value) => {
		const { output } = await runNode(sandbox, { operation: 'create', subjectType, [parameter]: value });
		expect(output![0].json).toMatchObject({ subjectType, subject: value });
		expect(dataRequestOf(sandbox, output![0].json.id as string)).toMatchObject({ type: subjectType });
		expect(sandbox.requests.map((r) => r.path)).toContain(`/v3/${subjectType}/${value}/datarequest`);
	});

	it('sends nothing over plain http:// beyond this machine unless the credential allows it', async () => {
		const { run } = await runNode(sandbox, createEmail('tls@example.com'), { baseUrl: 'http://copernica.example.com' });
		expect(run.error?.message).toBe("The credential's Base URL http://copernica.example.com uses http://");
		const report = await runNode(sandbox, createEmail('tls@example.com', 'http://n8n.example.com/webhook/x/copernica-data-request'));
		expect(report.run.error?.message).toContain('the personal data would travel unencrypted');
		expect(sandbox.counts().create).toBe(0);
		const allowed = await runNode(sandbox, createEmail('tls@example.com', 'http://n8n.example.com/hook'), { allowUnencryptedHttp: true });
		expect(allowed.output![0].json).toMatchObject({ report: 'http://n8n.example.com/hook' });
	});

	it('takes the subject type per item from an expression: one list mixes emails and ids', async () => {
		const items = [
			{ type: 'email', who: 'mixed@example.com' },
			{ type: 'profile', who: '4711' },
			{ type: 'Subprofile', who: '815' },
			{ type: 'customer', who: '1' },
		];
		const parameters = { operation: 'create', subjectType: '={{ $json.type }}', subject: '={{ $json.who }}' };
		const { output } = await runNode(sandbox, parameters, { items, continueOnFail: true });
		expect(output!.map((item) => item.json.subjectType ?? item.json.error)).toEqual([
			'email',
			'profile',
			'subprofile',
			'Item 3: The subject type "customer" is not one of email, profile, subprofile, person',
		]);
		expect(sandbox.requests.map((r) => r.path).sort()).toEqual([
			'/v3/email/mixed%40example.com/datarequest',
			'/v3/profile/4711/datarequest',
			'/v3/subprofile/815/datarequest',
		]);
	});

	it.each(['x-created', 'x-location', 'location', 'json', 'text'])(
		'reads the new id wherever the server puts it (%s)',
		async (idStyle) => {
			sandbox.setOptions({ idStyle, idFormat: 'uuid' });
			const { output } = await runNode(sandbox, createEmail('id@example.com'));
			const id = output![0].json.id as string;
			expect(id).toMatch(/^[0-9a-f-]{8,}$/);
			expect(dataRequestOf(sandbox, id)).toMatchObject({ target: 'id@example.com' });
		},
	);

	it('fails clearly when the answer carries no id', async () => {
		sandbox.setOptions({ idStyle: 'none' });
		const { run } = await runNode(sandbox, createEmail('noid@example.com'));
		expect(run.error?.message).toBe('Copernica accepted the data request but did not say its ID');
	});

	const corpus = [
		"o'brien+test@example.com",
		'100%sure@example.com',
		'slash/name@example.com',
		'hash#tag@example.com',
		'what?now@example.com',
		'UPPER.Case@Example.COM',
		'jürgen.müller@bücher.de',
		'用户@例子.广告',
		'  padded@example.com  ',
	];
	it('sends every address exactly as typed, percent-encoded in the path, one item each', async () => {
		const { output } = await runNode(
			sandbox,
			createEmail('={{ $json.email }}'),
			{ items: corpus.map((email) => ({ email })) },
		);
		expect(output).toHaveLength(corpus.length);
		output!.forEach((item, index) => {
			const expected = corpus[index].trim();
			expect(item.json.subject).toBe(expected);
			expect(item.pairedItem).toEqual({ item: index });
			expect(dataRequestOf(sandbox, item.json.id as string).target).toBe(expected);
		});
		expect(sandbox.requests.map((r) => r.path)).toContain(
			`/v3/email/${encodeURIComponent("o'brien+test@example.com")}/datarequest`,
		);
	});

	it('passes the report target: a web address or an email address', async () => {
		const url = 'http://127.0.0.1:9/webhook/abc/copernica-data-request?secret=a%26b';
		const { run, output } = await runNode(sandbox, createEmail('={{ $json.email }}', '={{ $json.report }}'), {
			items: [
				{ email: 'web@example.com', report: url },
				{ email: 'mail@example.com', report: 'privacy@example.com' },
			],
		});
		// Copernica gets the URL as it is; the output shows it with the trigger's secret masked.
		expect(output!.map((item) => item.json.report)).toEqual([url.replace('secret=a%26b', 'secret=***'), 'privacy@example.com']);
		expect(JSON.stringify(run.runData.Copernica)).not.toContain('a%26b');
		expect(dataRequestOf(sandbox, output![0].json.id as string).report).toBe(url);
		expect(dataRequestOf(sandbox, output![1].json.id as string).report).toBe('privacy@example.com');
	});

	it.each([
		[createEmail('not-an-email'), 'Item 0: "not-an-email" is not a valid email address: it has no "@"'],
		[createEmail('a@b.com', 'javascript:alert(1)'), 'Item 0: The report target "javascript:alert(1)" is not usable'],
		[{ operation: 'create', subjectType: 'profile', subject: '12a' }, 'Item 0: The profile ID "12a" is not a whole number'],
		[{ operation: 'create', subjectType: 'subprofile', subject: '-1' }, 'Item 0: The subprofile ID "-1"'],
	])('refuses bad input before sending anything (%j)', async (parameters, message) => {
		const { run } = await runNode(sandbox, parameters);
		expect(run.error?.message).toContain(message);
		expect(sandbox.counts().create ?? 0).toBe(0);
	});

	it('with Continue On Fail gives one output item per input item, errors in place, in order', async () => {
		const emails = ['good1@example.com', 'bad', 'good2@example.com', 'also bad@example.com', 'good3@example.com'];
		const { run, output } = await runNode(sandbox, createEmail('={{ $json.email }}'), {
			items: emails.map((email) => ({ email })),
			continueOnFail: true,
		});
		expect(run.error).toBeUndefined();
		expect(output).toHaveLength(5);
		expect(output!.map((item) => item.pairedItem)).toEqual(emails.map((_, item) => ({ item })));
		expect(output![0].json.subject).toBe('good1@example.com');
		expect(output![1].json.error).toBe('Item 1: "bad" is not a valid email address: it has no "@"');
		expect(output![2].json.subject).toBe('good2@example.com');
		expect(output![3].json.error).toContain('Item 3:');
		expect(output![4].json.subject).toBe('good3@example.com');
		expect(sandbox.counts().create).toBe(3);
	});

	it("reports Copernica's own message for an unknown profile", async () => {
		const { run } = await runNode(sandbox, { operation: 'create', subjectType: 'profile', subject: '999999' });
		expect(run.error?.message).toBe('No entity with supplied ID');
		expect((run.error as unknown as { httpCode: string }).httpCode).toBe('400');
	});

	it("n8n's automatic Custom API Call says what to use instead, without an internal value", async () => {
		const { run } = await runNode(sandbox, { operation: '__CUSTOM_API_CALL__' });
		expect(run.error?.message).toBe('This node has no custom API call');
		expect(run.error?.description).toContain('HTTP Request node with the Copernica API credential');
		expect(JSON.stringify([run.error?.message, run.error?.description])).not.toContain('__CUSTOM_API_CALL__');
		expect(sandbox.requests).toHaveLength(0);
	});
});
