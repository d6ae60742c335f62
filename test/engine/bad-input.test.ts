// The bad input corpus (test/fixtures/bad-inputs.ts): every entry fails its own item before any
// request is sent, with a message that names the item and says what is wrong; with Continue On
// Fail the good items around it still run.
import { badInputs, goodValueFor, parametersFor, type BadInputField } from '../fixtures/bad-inputs';
import { cleanupEngine } from './harness';
import { runNode, startCopernica, type Sandbox } from './copernica';

let sandbox: Sandbox;
beforeAll(async () => {
	// Never ready: no report deliveries to the good items' report targets.
	sandbox = await startCopernica({ readyAfterMs: Infinity });
});
afterAll(async () => {
	await sandbox.close();
	await cleanupEngine();
});
beforeEach(() => sandbox.reset());

// Raw control, format and separator characters in a message can forge log lines or flip text.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]/u;

it('has a corpus of at least 60 bad inputs', () => {
	expect(badInputs.length).toBeGreaterThanOrEqual(60);
});

describe.each(badInputs.map((entry) => [`${entry.field}: ${entry.what}`, entry] as const))('%s', (_name, entry) => {
	it('fails the item before any request, saying why', async () => {
		const { run, output } = await runNode(sandbox, parametersFor(entry.field), { items: [{ value: entry.value }] });
		expect(output).toBeUndefined();
		const message = run.error?.message ?? '';
		expect(message.startsWith('Item 0: ')).toBe(true);
		expect(message).toContain(entry.reason);
		expect(message).not.toMatch(HIDDEN);
		expect(message.length).toBeLessThan(400);
		expect(sandbox.requests).toHaveLength(0);
	});
});

const fields = [...new Set(badInputs.map((entry) => entry.field))];

describe.each(fields)('Continue On Fail with bad %s values among good ones', (field: BadInputField) => {
	it('errors in place of the bad items, results for the good ones, in order', async () => {
		const bad = badInputs.filter((entry) => entry.field === field);
		// good, bad, good, bad, ..., good
		const items = bad.flatMap((entry, index) => [{ value: goodValueFor(field, index) }, { value: entry.value }]);
		items.push({ value: goodValueFor(field, bad.length) });

		const { run, output } = await runNode(sandbox, parametersFor(field), { items, continueOnFail: true });
		expect(run.error).toBeUndefined();
		expect(output).toHaveLength(items.length);
		output!.forEach((item, index) => {
			expect(item.pairedItem).toEqual({ item: index });
			if (index % 2 === 1) {
				const entry = bad[(index - 1) / 2];
				expect(String(item.json.error).startsWith(`Item ${index}: `)).toBe(true);
				expect(item.json.error).toContain(entry.reason);
			} else {
				expect(item.json.error).toBeUndefined();
				if (field === 'requestId') expect(item.json).toMatchObject({ id: items[index].value, status: 'not available' });
				else expect(item.json.id).toEqual(expect.any(String));
			}
		});
		const good = bad.length + 1;
		const counts = sandbox.counts();
		if (field === 'requestId') expect(counts.status).toBe(good);
		else expect(counts).toMatchObject({ create: good, created: good });
	});
});
