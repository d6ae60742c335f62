// The streaming scanner on realistic files (the sandbox's generator: MIME messages full of escapes),
// cut into chunks of every kind of size: it must agree with JSON.parse exactly.
import { DataFileScanner, parseDataFile, summarizeDataFile } from '../../nodes/Copernica/helpers/dataFile';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { dataFileText } = require('../sandbox/datafile');

describe('DataFileScanner on generated files', () => {
	it.each([
		['email', 'o\'brien+"x"@example.com', 1],
		['profile', 4711, 2],
		['subprofile', 815, 3],
	])('%s file: same info and counts as JSON.parse, whatever the chunk sizes', (type, id, seed) => {
		const text: string = dataFileText({ size: 400_000, type, id, seed });
		const bytes = Buffer.from(text, 'utf8');
		const expected = summarizeDataFile(parseDataFile(text), bytes.length);
		let random = seed;
		const nextSize = () => {
			random = (random * 1103515245 + 12345) % 2147483648;
			return 1 + (random % 9000);
		};
		for (const size of [1, 13, 4096, 65536, 'random'] as const) {
			const scanner = new DataFileScanner();
			for (let at = 0; at < bytes.length; ) {
				const step = size === 'random' ? nextSize() : size;
				scanner.write(bytes.subarray(at, at + step));
				at += step;
			}
			const { info, summary } = scanner.result();
			expect({ size, info, summary }).toEqual({ size, info: { type, id }, summary: expected });
		}
	});
});

describe('DataFileScanner on escapes at every chunk boundary', () => {
	// Runs of backslashes before quotes, inside skipped strings (entries) and captured ones (info).
	const strings = ['\\"', '\\\\', '\\\\\\"', 'a\\\\"b', '\\\\\\\\', 'x"y', '"', '\\', 'tab\there', 'Grüße \\u00e9 \\\\"'];
	const entry = (text: string, n: number) => ({ kind: 'message', mime: text, [`k${'\\"'.repeat(n % 3)}`]: [text, { nested: text }] });
	const file = {
		info: { type: 'email', id: 'a\\"b\\\\c@example.com' },
		data: [strings.map(entry), [], [1, 'two', null, true, { x: strings }], strings],
	};
	const text = JSON.stringify(file);
	const bytes = Buffer.from(text, 'utf8');
	const expected = summarizeDataFile(parseDataFile(text), bytes.length);

	it.each(Array.from({ length: 12 }, (_, i) => i + 1))('cut into chunks of %i bytes, at every offset', (size) => {
		for (let offset = 0; offset < size; offset++) {
			const scanner = new DataFileScanner();
			scanner.write(bytes.subarray(0, offset));
			for (let at = offset; at < bytes.length; at += size) scanner.write(bytes.subarray(at, at + size));
			const { info, summary } = scanner.result();
			expect({ offset, info, summary }).toEqual({ offset, info: file.info, summary: expected });
		}
	});

	it('still says when the body ends inside a string', () => {
		const scanner = new DataFileScanner();
		scanner.write(Buffer.from(text.slice(0, text.indexOf('mime') + 12), 'utf8'));
		expect(() => scanner.result()).toThrow('the body ends before the JSON does');
	});
});
