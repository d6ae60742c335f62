/**
 * One file for a person: { "info": { "type": "person", "id": <email> }, "parts": [ <file>, ... ] },
 * where every part is a data request file ({ info, data }) exactly as Copernica sent it. The
 * bundle is written part by part: each part's bytes pass through as they arrive (and through a
 * scanner that checks and counts them), so the bundle is never held in memory as a whole.
 */
import { DataFileScanner, type DataFileInfo, type DataFileSummary } from './dataFile';

/** A part that is not a data request file; the bundle stream ends with it. */
export class BundlePartError extends Error {}

export interface BundleInfo {
	type: 'person';
	id: string | null;
}

export interface BundlePartResult {
	info: DataFileInfo;
	summary: DataFileSummary;
}

/**
 * The bundle's bytes. `openPart(i)` gives part i's bytes as they arrive; `onPart` hears each
 * part's info and summary once it has passed whole. A part that is not a data request file ends
 * the stream with an error that says which.
 */
export async function* bundleBytes(
	info: BundleInfo,
	count: number,
	openPart: (index: number) => Promise<Iterable<Uint8Array> | AsyncIterable<Uint8Array>>,
	onPart: (index: number, part: BundlePartResult) => void = () => {},
): AsyncGenerator<Buffer> {
	yield Buffer.from(`{"info":${JSON.stringify(info)},"parts":[`, 'utf8');
	for (let index = 0; index < count; index++) {
		if (index > 0) yield Buffer.from(',', 'utf8');
		const scanner = new DataFileScanner();
		for await (const chunk of await openPart(index)) {
			const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
			scanner.write(buffer);
			yield buffer;
		}
		let result: BundlePartResult;
		try {
			result = scanner.result();
		} catch (error) {
			throw partError(index, count, (error as Error).message);
		}
		onPart(index, result);
	}
	yield Buffer.from(']}', 'utf8');
}

const partError = (index: number, count: number, problem: string) =>
	new BundlePartError(`Part ${index + 1} of ${count} is not a data request file: ${problem}`);
