import {
	DataFileScanner,
	dataFileProblem,
	parseDataFile,
	summarizeDataFile,
} from '../../nodes/Copernica/helpers/dataFile';

const file = {
	data: [
		[{ mime: 'From: "A \\"quoted\\" name" <a@b.c>\r\n\r\nbody with { and [ and "quotes"' }, { mime: 'x' }],
		[{ open: '2026-01-01T00:00:00Z', nested: { info: { type: 'fake' } } }],
		[],
		['a', 1, null, true],
	],
	info: { type: 'email', id: 'jürgen+x@example.com' },
};

function scan(text: string, chunkSize: number) {
	const scanner = new DataFileScanner();
	const bytes = Buffer.from(text, 'utf8');
	for (let i = 0; i < bytes.length; i += chunkSize) scanner.write(bytes.subarray(i, i + chunkSize));
	return scanner.result();
}

describe('data request file', () => {
	it('parses and summarises a file', () => {
		const text = JSON.stringify(file);
		const parsed = parseDataFile(text);
		expect(parsed.info).toEqual({ type: 'email', id: 'jürgen+x@example.com' });
		expect(summarizeDataFile(parsed, 123)).toEqual({ bytes: 123, groups: 4, entries: 7, entriesPerGroup: [2, 1, 0, 4] });
	});

	it.each([1, 2, 7, 64, 100000])('the streaming scanner agrees with the parser in chunks of %i bytes', (size) => {
		const text = JSON.stringify(file, null, 1);
		const { info, summary } = scan(text, size);
		expect(info).toEqual(file.info);
		expect(summary).toEqual(summarizeDataFile(parseDataFile(text), Buffer.byteLength(text)));
	});

	it('reads numeric ids and escaped strings', () => {
		const { info } = scan('{"info":{"id":12345,"type":"profile"},"data":[[1]]}', 3);
		expect(info).toEqual({ type: 'profile', id: 12345 });
		expect(scan('{"info":{"type":"email","id":"a\\u0040b.c"},"data":[]}', 5).info.id).toBe('a@b.c');
	});

	it.each([
		['[]', 'not a JSON object'],
		['{"data":[]}', 'no "info" object'],
		['{"info":{"type":"person","id":"x"},"data":[]}', 'not email, profile or subprofile'],
		['{"info":{"type":"email"},"data":[]}', '"info.id" is missing'],
		['{"info":{"type":"email","id":"a@b.c"},"data":{}}', '"data" is not an array'],
		['{"info":{"type":"email","id":"a@b.c"}}', '"data" is not an array'],
	])('rejects %s', (text, reason) => {
		expect(() => parseDataFile(text)).toThrow(reason);
		expect(() => scan(text, 4)).toThrow(reason);
		expect(dataFileProblem(JSON.parse(text))).toContain(reason.replace(/^not a JSON object$/, 'not a JSON object'));
	});

	it('says when the bytes end early or are not JSON', () => {
		expect(() => parseDataFile('{"info":')).toThrow('not valid JSON');
		expect(() => scan('{"info":{"type":"email","id":"a@b.c"},"data":[[', 4)).toThrow('ends before');
	});
});
