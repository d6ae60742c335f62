// Memory while Get writes a person's bundle as a binary file (filesystem binary mode), for a
// small and a large set: 7 parts of 2 MB and of 30 MB. Not part of npm test (its roots are test/):
//   node --expose-gc node_modules/.bin/jest --roots '<rootDir>/bench' -- person-bundle
// Prints the bundle's size, the time, and the peak growth of this process's RSS (which also
// holds the sandbox generating the files).
import type { IDataObject } from 'n8n-workflow';

import { ACCOUNT, PERSON } from '../test/fixtures/person-account';
import { runNode, startCopernica, type Sandbox } from '../test/engine/copernica';
import { cleanupEngine } from '../test/engine/harness';

jest.setTimeout(600_000);
let sandbox: Sandbox | undefined;
afterAll(async () => {
	await sandbox?.close();
	await cleanupEngine();
});

it.each([2_000_000, 30_000_000])('bundle of 7 parts of %d bytes', async (fileSize) => {
	sandbox ??= await startCopernica({ account: ACCOUNT });
	sandbox.reset();
	sandbox.setOptions({ fileSize });
	const set = (await runNode(sandbox, { operation: 'create', subjectType: 'person', subject: PERSON })).output![0].json;
	global.gc?.();
	const base = process.memoryUsage().rss;
	let peak = base;
	const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
	const started = Date.now();
	const { output } = await runNode(sandbox, { operation: 'get', requestId: set.id as string, returnAs: 'binary' }, { binaryDataMode: 'filesystem' });
	clearInterval(timer);
	const summary = output![0].json.summary as IDataObject;
	expect(summary.parts).toBe(7);
	console.log(`parts of ${fileSize} B: bundle ${summary.bytes} B in ${Date.now() - started} ms, peak RSS +${Math.round((peak - base) / 1e6)} MB`);
});
