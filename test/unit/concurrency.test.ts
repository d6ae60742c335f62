import { concurrencyLimit, mapInOrder } from '../../nodes/Copernica/helpers/concurrency';

describe('mapInOrder and the option value', () => {
	const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

	it('returns results in index order and throws the lowest failing index', async () => {
		expect(await mapInOrder(5, 2, async (i) => (await tick(10 * (5 - i)), i * 10))).toEqual([0, 10, 20, 30, 40]);
		expect(await mapInOrder(0, 5, async (i) => i)).toEqual([]);
		const started: number[] = [];
		const failing = mapInOrder(10, 3, async (i) => {
			started.push(i);
			await tick(i === 1 ? 30 : 5);
			if (i === 1 || i === 2) throw new Error(`item ${i}`);
			return i;
		});
		await expect(failing).rejects.toThrow('item 1');
		// 2 failed first; no index was started after that, and 1 (in flight) was awaited.
		expect(Math.max(...started)).toBeLessThan(6);
	});

	it('reads the option as a whole number from 1 to 50, 10 when unset', () => {
		expect([undefined, '', 'x', null].map(concurrencyLimit)).toEqual([10, 10, 10, 10]);
		expect([0, 1, 2.7, 50, 51, -3].map(concurrencyLimit)).toEqual([1, 1, 2, 50, 50, 1]);
	});
});
