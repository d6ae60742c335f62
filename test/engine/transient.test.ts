// 1,000 creates against a sandbox where 30 % of all calls fail with 429, 503 or a dropped
// connection (seeded, so every run meets the same faults): every item comes out, in order, and no
// data request is created twice. Creates whose connection dropped after sending are not retried
// (they may have been processed) and come out as error items that say so.
import { cleanupEngine } from './harness';
import { everythingStoredOf, runNode, startCopernica, TOKEN, type Sandbox } from './copernica';

const ITEMS = 1000;
const FAILURE_RATE = 0.3;
const SEED = 20240601;

let sandbox: Sandbox;
beforeAll(async () => {
	sandbox = await startCopernica({ transientFailureRate: FAILURE_RATE, seed: SEED, logLimit: 100000 });
});
afterAll(async () => {
	await sandbox.close();
	await cleanupEngine();
});

const emailOf = (index: number) => `subject-${index}@example.com`;

it(
	`creates ${ITEMS} data requests through ${FAILURE_RATE * 100} % transient faults: all items out, in order, no duplicates`,
	async () => {
		const started = Date.now();
		const { run, output } = await runNode(
			sandbox,
			{ operation: 'create', subjectType: 'email', subject: '={{ $json.email }}' },
			{ items: Array.from({ length: ITEMS }, (_, index) => ({ email: emailOf(index) })), continueOnFail: true },
		);
		const seconds = (Date.now() - started) / 1000;
		expect(run.error).toBeUndefined();
		expect(output).toHaveLength(ITEMS);

		const byId = sandbox.dataRequests as Map<string, { target: string }>;
		const records = [...byId.values()];
		const createdPerSubject = new Map<string, number>();
		for (const record of records) createdPerSubject.set(record.target, (createdPerSubject.get(record.target) ?? 0) + 1);

		let succeeded = 0;
		let unknownOutcome = 0;
		let unknownButCreated = 0;
		let exhausted = 0;
		output!.forEach((item, index) => {
			expect(item.pairedItem).toEqual({ item: index });
			if (item.json.error === undefined) {
				succeeded++;
				expect(item.json.subject).toBe(emailOf(index));
				expect(byId.get(item.json.id as string)?.target).toBe(emailOf(index));
				return;
			}
			const error = String(item.json.error);
			if (error.includes('may or may not have been created')) {
				unknownOutcome++;
				if (createdPerSubject.has(emailOf(index))) unknownButCreated++;
			} else {
				// 429/503 on every one of the 1 + 3 tries
				expect(String(item.json.description)).toContain('Tried 4 times');
				expect(createdPerSubject.has(emailOf(index))).toBe(false);
				exhausted++;
			}
		});

		const counts = sandbox.counts();
		const duplicates = [...createdPerSubject.values()].reduce((sum, count) => sum + count - 1, 0);
		const retries = counts.create - ITEMS;
		const faults = sandbox.requests.filter((request) => (request as { fault?: string }).fault).length;
		console.log(
			`transient faults: ${ITEMS} items in ${seconds.toFixed(1)} s; ${counts.create} create calls, ${faults} faults, ${retries} retries; ` +
				`${succeeded} created, ${unknownOutcome} not retried after a dropped connection (${unknownButCreated} of them processed), ` +
				`${exhausted} gave up after 4 tries; sandbox created ${counts.created}, created minus successful items ${counts.created - succeeded}, duplicates ${duplicates}`,
		);

		expect(succeeded + unknownOutcome + exhausted).toBe(ITEMS);
		expect(duplicates).toBe(0);
		// Every data request the sandbox holds is a successful item or a create whose answer was lost.
		expect(counts.created).toBe(succeeded + unknownButCreated);
		const processedThenReset = sandbox.requests.filter(
			(request) => request.kind === 'create' && (request as { processed?: boolean }).processed === true,
		).length;
		expect(unknownButCreated).toBe(processedThenReset);
		expect(retries).toBeGreaterThan(0);
		expect(succeeded).toBeGreaterThan(ITEMS * 0.8);
		expect(everythingStoredOf(run)).not.toContain(TOKEN);
	},
	120000,
);
