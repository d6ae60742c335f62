import {
	collectionScanPays,
	compareIds,
	compareMatches,
	emailFieldNames,
	encodeQueryValue,
	equalsCondition,
	fieldsOf,
	flagOf,
	idOf,
	Limiter,
	matchedFieldOf,
	matchingRecords,
	pageQuery,
	PagingError,
	readPage,
	removedAtOf,
	sameAddress,
	searchValues,
	splitAddress,
} from '../../nodes/Copernica/helpers/personSearch';

describe('addresses', () => {
	it('splits at the last "@"', () => {
		expect(splitAddress('"a@b"@example.com')).toEqual({ local: '"a@b"', domain: 'example.com' });
		expect(splitAddress('no-at')).toBeUndefined();
	});

	it('searches for the address as given and, when different, with the domain in lower case', () => {
		expect(searchValues('jane@example.com')).toEqual(['jane@example.com']);
		expect(searchValues('Jane@Example.COM')).toEqual(['Jane@Example.COM', 'Jane@example.com']);
		expect(searchValues('jöhn@BÜCHER.de')).toEqual(['jöhn@BÜCHER.de', 'jöhn@bücher.de']);
		expect(searchValues('JANE@example.com')).toEqual(['JANE@example.com']);
	});

	it('is the same address exactly before the "@" and in any case after it', () => {
		expect(sameAddress('jane@Example.COM', 'jane@example.com')).toBe(true);
		expect(sameAddress('Jane@example.com', 'jane@example.com')).toBe(false);
		expect(sameAddress("o'brien+test@example.com", "o'brien+test@example.com")).toBe(true);
		expect(sameAddress('obrien+test@example.com', "o'brien+test@example.com")).toBe(false);
		expect(sameAddress("o'brien test@example.com", "o'brien+test@example.com")).toBe(false);
		expect(sameAddress('axb@example.com', 'a_b@example.com')).toBe(false);
		expect(sameAddress('100x@example.com', '100%@example.com')).toBe(false);
		expect(sameAddress(' jane@example.com', 'jane@example.com')).toBe(false);
		expect(sameAddress('jane@example.com.', 'jane@example.com')).toBe(false);
		expect(sameAddress(undefined, 'jane@example.com')).toBe(false);
		expect(sameAddress(42, 'jane@example.com')).toBe(false);
		expect(sameAddress('jane', 'jane')).toBe(false);
	});
});

describe('the condition and its encoding', () => {
	it('is field==value, with no wildcard and no escape', () => {
		expect(equalsCondition('email', '100%_x@example.com')).toBe('email==100%_x@example.com');
	});

	it('encodes the whole condition, so that each character means only itself', () => {
		expect(pageQuery(0, 1000, equalsCondition('email', "o'brien+test@example.com"))).toBe(
			'fields[]=email%3D%3Do%27brien%2Btest%40example.com&start=0&limit=1000&total=true',
		);
		expect(encodeQueryValue('a&b=c#d%e_f*(g)!')).toBe('a%26b%3Dc%23d%25e_f%2A%28g%29%21');
		expect(encodeQueryValue('jöhn')).toBe('j%C3%B6hn');
		// What a server decodes is the condition again, "+" included (form decoding makes + a space).
		for (const value of ["o'brien+test@example.com", '100%@example.com', 'a&b=c#d@example.com', 'jöhn@bücher.de']) {
			const query = new URLSearchParams(pageQuery(0, 1000, equalsCondition('email', value)));
			expect(query.get('fields[]')).toBe(`email==${value}`);
		}
	});

	it('pages with start and limit, and asks for the total', () => {
		expect(pageQuery(2000)).toBe('start=2000&limit=1000&total=true');
	});
});

describe('readPage: the paging plan', () => {
	const data = (n: number, from = 1) => Array.from({ length: n }, (_, i) => ({ ID: String(from + i) }));

	it('goes on to the total', () => {
		expect(readPage({ start: 0, limit: 1000, count: 1000, total: 2500, data: data(1000) }, 0, 1000).next).toBe(1000);
		expect(readPage({ start: 1000, limit: 1000, count: 1000, total: 2500, data: data(1000) }, 1000, 1000).next).toBe(2000);
		expect(readPage({ start: 2000, limit: 1000, count: 500, total: 2500, data: data(500) }, 2000, 1000).next).toBeUndefined();
		// A full last page needs no extra call when the total says it is the last.
		expect(readPage({ start: 1000, limit: 1000, count: 1000, total: 2000, data: data(1000) }, 1000, 1000).next).toBeUndefined();
	});

	it('goes on past a short page when the total says there is more (a server that gives fewer than asked)', () => {
		expect(readPage({ start: 0, limit: 1000, count: 100, total: 250, data: data(100) }, 0, 1000).next).toBe(100);
	});

	it('without a total, goes on while a page is full, by the limit the answer names', () => {
		expect(readPage({ start: 0, limit: 1000, count: 1000, data: data(1000) }, 0, 1000).next).toBe(1000);
		expect(readPage({ start: 0, limit: 1000, count: 999, data: data(999) }, 0, 1000).next).toBeUndefined();
		expect(readPage({ start: 0, limit: 100, count: 100, data: data(100) }, 0, 1000).next).toBe(100);
		expect(readPage({ start: 0, data: data(3) }, 0, 1000).next).toBeUndefined();
		expect(readPage({ start: '0', limit: '2', count: '2', data: data(2) }, 0, 1000).next).toBe(2);
	});

	it('ends at an empty page, whatever the total says', () => {
		expect(readPage({ start: 3000, limit: 1000, count: 0, total: 9000, data: [] }, 3000, 1000)).toEqual({ items: [], total: 9000 });
	});

	it('says the total when the answer does', () => {
		expect(readPage({ start: 0, limit: 1000, count: 3, total: 3, data: data(3) }, 0, 1000)).toEqual({ items: data(3), total: 3 });
		expect(readPage({ start: 0, limit: 1000, count: 1000, total: '2500', data: data(1000) }, 0, 1000)).toEqual({ items: data(1000), next: 1000, total: 2500 });
	});

	it('takes a bare array as the whole list', () => {
		expect(readPage(data(2), 0, 1000)).toEqual({ items: data(2) });
	});

	it('refuses what is not a list, and a page that starts elsewhere than asked', () => {
		expect(() => readPage({ error: { message: 'x' } }, 0, 1000)).toThrow(PagingError);
		expect(() => readPage('text', 0, 1000)).toThrow('the answer is not a list');
		expect(() => readPage({ start: 0, limit: 1000, count: 1000, data: data(1000) }, 1000, 1000)).toThrow(
			'asked for the records from 1000 on, the answer starts at 0',
		);
	});
});

describe('collectionScanPays: a collection as a whole or one call per profile', () => {
	it('reads the collection when its remaining pages are fewer than the profiles', () => {
		expect(collectionScanPays(2501, 2500)).toBe(true); // 2 more pages against 2,500 calls
		expect(collectionScanPays(15000, 12)).toBe(false); // 14 more pages against 12 calls
		expect(collectionScanPays(12000, 12)).toBe(true); // 11 more against 12
		expect(collectionScanPays(13000, 12)).toBe(false); // 12 more against 12: no gain
		expect(collectionScanPays(0, 10)).toBe(true);
	});

	it('does not without a total', () => {
		expect(collectionScanPays(undefined, 1000)).toBe(false);
		expect(collectionScanPays(Number.NaN, 1000)).toBe(false);
	});
});

describe('records', () => {
	it('reads ids as text', () => {
		expect(idOf('3144')).toBe('3144');
		expect(idOf(3144)).toBe('3144');
		expect(idOf(' 12 ')).toBe('12');
		for (const bad of ['', '0', '-1', '1.5', 'abc', 0, 1.5, null, undefined, {}]) expect(idOf(bad)).toBeUndefined();
	});

	it('reads Copernica\'s yes and no, and the date of a removal', () => {
		for (const yes of [true, 1, '1', 'true', 'yes', '2024-05-01 12:00:00']) expect(flagOf(yes)).toBe(true);
		for (const no of [false, 0, '0', 'false', '', null, undefined, '0000-00-00 00:00:00']) expect(flagOf(no)).toBe(false);
		expect(removedAtOf('2024-05-01 12:00:00')).toBe('2024-05-01 12:00:00');
		expect(removedAtOf(true)).toBeUndefined();
		expect(removedAtOf('0000-00-00 00:00:00')).toBeUndefined();
	});

	it('reads fields as an object; a removed record\'s [] is none', () => {
		expect(fieldsOf({ email: 'a@b.c' })).toEqual({ email: 'a@b.c' });
		expect(fieldsOf([])).toEqual({});
		expect(fieldsOf(null)).toEqual({});
	});

	it('picks the fields of type email, in the order of their ids', () => {
		const fields = [
			{ ID: '30', name: 'work_email', type: 'email' },
			{ ID: '4', name: 'name', type: 'text' },
			{ ID: '12', name: 'email', type: 'Email' },
			{ ID: '5', name: '', type: 'email' },
			null,
		];
		expect(emailFieldNames(fields)).toEqual(['email', 'work_email']);
	});

	it('names the first email field that holds the address', () => {
		expect(matchedFieldOf({ email: 'x@y.z', work: 'jane@EXAMPLE.com' }, ['email', 'work'], 'jane@example.com')).toBe('work');
		expect(matchedFieldOf({}, ['email'], 'jane@example.com')).toBeUndefined();
	});
});

describe('matchingRecords: what a search answer counts as the address', () => {
	const wanted = 'jane@example.com';
	const record = (ID: string, fields: object, removed = false) => ({ ID, fields, removed });

	it('keeps exact matches and drops spellings that differ before the "@"', () => {
		const answer = [record('1', { email: 'jane@example.com' }), record('2', { email: 'JANE@example.com' }), record('3', { email: 'jane@EXAMPLE.COM' })];
		expect(matchingRecords(answer, 'email', wanted, wanted).map((r) => r.ID)).toEqual(['1', '3']);
	});

	it('takes a record without a value (removed) on Copernica\'s word when the answer is a real equality answer', () => {
		const answer = [record('1', { email: 'jane@example.com' }), record('2', {}, true), record('3', { email: 'Jane@Example.com' })];
		expect(matchingRecords(answer, 'email', wanted, wanted).map((r) => r.ID)).toEqual(['1', '2']);
	});

	it('does not when the answer has other values: the server did not apply the condition', () => {
		const answer = [record('1', { email: 'jane@example.com' }), record('2', {}, true), record('3', { email: 'other@example.com' })];
		expect(matchingRecords(answer, 'email', wanted, wanted).map((r) => r.ID)).toEqual(['1']);
	});

	it('checks each answer against the value it searched for', () => {
		const answer = [record('1', { email: 'jane@example.com' }), record('2', [], true)];
		// Searched with the domain lowered for an address typed "jane@EXAMPLE.com".
		expect(matchingRecords(answer, 'email', 'jane@example.com', 'jane@EXAMPLE.com').map((r) => r.ID)).toEqual(['1', '2']);
	});
});

describe('the order of the output', () => {
	it('compares ids as numbers, without losing digits, a missing id first', () => {
		expect(['10', '9', '100', '2'].sort(compareIds)).toEqual(['2', '9', '10', '100']);
		expect(compareIds('90071992547409931', '90071992547409930')).toBeGreaterThan(0);
		expect(compareIds(undefined, '1')).toBeLessThan(0);
		expect(compareIds('1', '1')).toBe(0);
	});

	it('orders by database, then collection (profiles first), profile, subprofile', () => {
		const keys = [
			{ databaseId: '2', collectionId: '22', profileId: '2001', subprofileId: '2201' },
			{ databaseId: '1', collectionId: '12', profileId: '1001', subprofileId: '1201' },
			{ databaseId: '1', collectionId: '11', profileId: '1001', subprofileId: '1102' },
			{ databaseId: '1', profileId: '1001' },
			{ databaseId: '1', collectionId: '11', profileId: '1001', subprofileId: '1101' },
			{ databaseId: '1', collectionId: '11', profileId: '999', subprofileId: '1105' },
			{ databaseId: '10', profileId: '1' },
		];
		expect(keys.sort(compareMatches).map((k) => k.subprofileId ?? `p${k.profileId}`)).toEqual([
			'p1001',
			'1105',
			'1101',
			'1102',
			'1201',
			'2201',
			'p1',
		]);
	});
});

describe('Limiter', () => {
	it('runs at most `limit` tasks at once, in order, and frees a place when a task fails', async () => {
		const limiter = new Limiter(2);
		let running = 0;
		let most = 0;
		const started: number[] = [];
		const gates = Array.from({ length: 6 }, () => {
			let open!: () => void;
			const promise = new Promise<void>((resolve) => (open = resolve));
			return { promise, open };
		});
		const tasks = gates.map((gate, index) =>
			limiter.run(async () => {
				started.push(index);
				running++;
				most = Math.max(most, running);
				await gate.promise;
				running--;
				if (index === 1) throw new Error('task 1 failed');
				return index;
			}),
		);
		// Failures are read at the end: mark them handled now.
		for (const task of tasks) task.catch(() => undefined);
		const settle = () => new Promise((resolve) => setImmediate(resolve));
		await settle();
		expect(started).toEqual([0, 1]);
		gates[1].open();
		await settle();
		expect(started).toEqual([0, 1, 2]);
		// A newcomer does not overtake the queue.
		const late = limiter.run(async () => 'late');
		for (const gate of gates) gate.open();
		const results = await Promise.allSettled([...tasks, late]);
		expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([0, 'task 1 failed', 2, 3, 4, 5, 'late']);
		expect(started).toEqual([0, 1, 2, 3, 4, 5]);
		expect(most).toBe(2);
	});
});
