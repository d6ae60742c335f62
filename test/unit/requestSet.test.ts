import { bundleBytes, BundlePartError } from '../../nodes/Copernica/helpers/bundle';
import {
	emailCallAbsent,
	newSetKey,
	partReportUrl,
	requestSetOf,
	setIdOf,
	setStatusOf,
} from '../../nodes/Copernica/helpers/requestSet';
import { InvalidInputError } from '../../nodes/Copernica/helpers/validation';

describe('set ids', () => {
	it('round-trips key, ids and an email that holds colons and commas', () => {
		const set = { key: newSetKey(), ids: ['12', 'a1b2-c3', '99'], email: "o'brien+x:y,z@example.com" };
		const id = setIdOf(set);
		expect(id).toBe(`person:${set.key}:12,a1b2-c3,99:o'brien+x:y,z@example.com`);
		expect(requestSetOf(id)).toEqual(set);
	});

	it('makes keys that are safe in a URL and differ every time', () => {
		const keys = new Set(Array.from({ length: 50 }, () => newSetKey()));
		expect(keys.size).toBe(50);
		for (const key of keys) expect(key).toMatch(/^[0-9a-f]{16}$/);
	});

	it('reads an empty set (nobody found)', () => {
		expect(requestSetOf('person:k:: nobody@example.com'.replace(' ', ''))).toEqual({ key: 'k', ids: [], email: 'nobody@example.com' });
	});

	it('reads lists of request ids: comma, space or new line separated, or an array; duplicates once', () => {
		expect(requestSetOf('1, 2,3\n4 2')).toEqual({ key: '', ids: ['1', '2', '3', '4'] });
		expect(requestSetOf(['7', 8])).toEqual({ key: '', ids: ['7', '8'] });
	});

	it('leaves a single request id to Get (undefined)', () => {
		expect(requestSetOf('8812')).toBeUndefined();
		expect(requestSetOf('  8812 ')).toBeUndefined();
		expect(requestSetOf(8812)).toBeUndefined();
	});

	it('refuses a cut set id, an empty list and ids with characters Copernica ids never have', () => {
		expect(() => requestSetOf('person:abc')).toThrow(InvalidInputError);
		expect(() => requestSetOf('person:abc:1,2')).toThrow(/incomplete/);
		expect(() => requestSetOf([])).toThrow(/empty/);
		expect(() => requestSetOf('1, 2/3')).toThrow(InvalidInputError);
		expect(() => requestSetOf('person:k:1,../2:a@b.c')).toThrow(InvalidInputError);
	});
});

describe('partReportUrl', () => {
	it('adds set, part and parts after everything that is there, untouched', () => {
		expect(partReportUrl('https://n8n.example.com/webhook/x/y?secret=a%2Fb&ticket=T-1', 'K', 2, 5)).toBe(
			'https://n8n.example.com/webhook/x/y?secret=a%2Fb&ticket=T-1&set=K&part=2&parts=5',
		);
		expect(partReportUrl('https://n8n.example.com/webhook/x/y', 'K-_', 1, 1)).toBe('https://n8n.example.com/webhook/x/y?set=K-_&part=1&parts=1');
	});
});

describe('setStatusOf', () => {
	it('is available only when every part is, not available when any part is', () => {
		expect(setStatusOf([])).toBe('available');
		expect(setStatusOf([{ status: 'available' }, { status: 'available' }])).toBe('available');
		expect(setStatusOf([{ status: 'available' }, { status: 'pending' }])).toBe('pending');
		expect(setStatusOf([{ status: 'pending' }, { status: 'not available' }])).toBe('not available');
	});
});

describe('emailCallAbsent', () => {
	const email = 'Jane.Doe+x@example.com';
	it('is a 404 that does not name the address', () => {
		expect(emailCallAbsent(404, '', email)).toBe(true);
		expect(emailCallAbsent(404, '{"error":{"message":"Unknown method"}}', email)).toBe(true);
	});
	it('is not an error that names the address (as typed, in another case, or encoded), nor another status', () => {
		expect(emailCallAbsent(404, '{"error":{"message":"No profile for jane.doe+x@example.com"}}', email)).toBe(false);
		expect(emailCallAbsent(404, `{"error":{"message":"${encodeURIComponent(email)} not found"}}`, email)).toBe(false);
		expect(emailCallAbsent(404, '{"error":{"message":"Invalid email address"}}', email)).toBe(false);
		expect(emailCallAbsent(400, '', email)).toBe(false);
		expect(emailCallAbsent(500, '', email)).toBe(false);
	});
});

describe('bundleBytes', () => {
	const file = (type: string, id: string | number, data: unknown[]) => JSON.stringify({ info: { type, id }, data });
	const chunked = (text: string, size: number) => {
		const bytes = Buffer.from(text, 'utf8');
		const chunks: Buffer[] = [];
		for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
		return chunks;
	};
	const collect = async (bytes: AsyncIterable<Buffer>) => {
		const chunks: Buffer[] = [];
		for await (const chunk of bytes) chunks.push(chunk);
		return Buffer.concat(chunks).toString('utf8');
	};

	it('writes { info, parts: [file, ...] } with every part byte for byte, whatever the chunking', async () => {
		const parts = [file('email', 'jane@example.com', [['a', 'é']]), file('profile', 1001, [[1], [2, 3]]), file('subprofile', '7', [])];
		const heard: unknown[] = [];
		const text = await collect(
			bundleBytes(
				{ type: 'person', id: 'jane@example.com' },
				parts.length,
				async (index) => chunked(parts[index], 3),
				(index, result) => heard.push([index, result.info, result.summary.entries]),
			),
		);
		expect(text).toBe(`{"info":{"type":"person","id":"jane@example.com"},"parts":[${parts.join(',')}]}`);
		expect(JSON.parse(text).parts[1]).toEqual({ info: { type: 'profile', id: 1001 }, data: [[1], [2, 3]] });
		expect(heard).toEqual([
			[0, { type: 'email', id: 'jane@example.com' }, 2],
			[1, { type: 'profile', id: 1001 }, 3],
			[2, { type: 'subprofile', id: '7' }, 0],
		]);
	});

	it('opens each part only when the one before has passed (one part in flight)', async () => {
		const opened: number[] = [];
		const generator = bundleBytes({ type: 'person', id: null }, 3, async (index) => {
			opened.push(index);
			return [Buffer.from(file('profile', index, []))];
		});
		await generator.next(); // the head
		expect(opened).toEqual([]);
		await generator.next(); // part 0
		expect(opened).toEqual([0]);
		await collect(generator);
		expect(opened).toEqual([0, 1, 2]);
	});

	it('an empty set is a bundle without parts', async () => {
		expect(JSON.parse(await collect(bundleBytes({ type: 'person', id: 'a@b.c' }, 0, async () => [])))).toEqual({
			info: { type: 'person', id: 'a@b.c' },
			parts: [],
		});
	});

	it('ends with an error naming the part that is not a data request file', async () => {
		const parts = [file('email', 'a@b.c', []), '<html>502 Bad Gateway</html>'];
		await expect(collect(bundleBytes({ type: 'person', id: 'a@b.c' }, 2, async (i) => [Buffer.from(parts[i])]))).rejects.toThrow(
			new BundlePartError('Part 2 of 2 is not a data request file: the body is not a JSON object'),
		);
	});
});
