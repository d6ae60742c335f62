// The adaptive limit and mapInOrder, without a clock: answer times are numbers the test hands in,
// and a simulated Copernica counts the calls in flight, refusing those above its own limit.
import {
	AdaptiveLimit,
	concurrencyLimit,
	mapInOrder,
	SLOWER_BY_MS,
	START_CONCURRENCY,
} from '../../nodes/Copernica/helpers/concurrency';

/** Lets every pending promise callback run (no timers: nothing waits on the clock). */
const settle = async (rounds = 5) => {
	for (let i = 0; i < rounds; i++) await Promise.resolve();
};

describe('mapInOrder and the option value', () => {
	it('returns results in index order and throws the lowest failing index', async () => {
		// Later indexes finish first: each task waits for more microtask turns the lower its index.
		expect(await mapInOrder(5, 2, async (i) => (await settle(5 - i), i * 10))).toEqual([0, 10, 20, 30, 40]);
		expect(await mapInOrder(0, 5, async (i) => i)).toEqual([]);
		const started: number[] = [];
		const failing = mapInOrder(10, 3, async (i) => {
			started.push(i);
			await settle(i === 1 ? 20 : 2);
			if (i === 1 || i === 2) throw new Error(`item ${i}`);
			return i;
		});
		await expect(failing).rejects.toThrow('item 1');
		// 2 failed first; no index was started after that, and 1 (in flight) was awaited.
		expect(Math.max(...started)).toBeLessThan(6);
	});

	it('never runs more tasks at once than a fixed limit', async () => {
		let now = 0;
		let most = 0;
		const output = await mapInOrder(20, 3, async (i) => {
			most = Math.max(most, ++now);
			await settle(1 + (i % 4));
			now--;
			return i;
		});
		expect(output).toEqual(Array.from({ length: 20 }, (_, i) => i));
		expect(most).toBe(3);
	});

	it('reads the option as a whole number from 1 to 100, 50 when unset', () => {
		expect([undefined, '', 'x', null].map(concurrencyLimit)).toEqual([50, 50, 50, 50]);
		expect([0, 1, 2.7, 50, 100, 101, -3].map(concurrencyLimit)).toEqual([1, 1, 2, 50, 100, 100, 1]);
	});
});

describe('AdaptiveLimit', () => {
	/** Sends and answers `count` calls one round at a time, each after `ms`. */
	const answerRounds = (limit: AdaptiveLimit, rounds: number, ms: number) => {
		for (let r = 0; r < rounds; r++) {
			const calls = limit.current;
			for (let i = 0; i < calls; i++) limit.sent();
			for (let i = 0; i < calls; i++) limit.answered(ms);
		}
	};

	it('starts small and doubles each round of fast, clean answers, up to the maximum', () => {
		const limit = new AdaptiveLimit(50);
		expect(limit.current).toBe(START_CONCURRENCY);
		const seen = [limit.current];
		for (let r = 0; r < 5; r++) {
			answerRounds(limit, 1, 50);
			seen.push(limit.current);
		}
		expect(seen).toEqual([4, 8, 16, 32, 50, 50]);
		expect(new AdaptiveLimit(2).current).toBe(2);
		const one = new AdaptiveLimit(1);
		answerRounds(one, 10, 1);
		expect(one.current).toBe(1);
	});

	it('halves at once on a refusal, ignores the refusals of calls already in flight, then grows by one per round', () => {
		const limit = new AdaptiveLimit(100);
		answerRounds(limit, 3, 50); // 4 -> 8 -> 16 -> 32
		expect(limit.current).toBe(32);
		for (let i = 0; i < 32; i++) limit.sent();
		limit.refused();
		expect(limit.current).toBe(16);
		// The other 31 were sent under the old limit: their refusals are echoes of the same overload.
		for (let i = 0; i < 10; i++) limit.refused();
		expect(limit.current).toBe(16);
		for (let i = 0; i < 21; i++) limit.answered(50);
		expect(limit.current).toBe(17); // one round of 16 clean answers: one more
		answerRounds(limit, 3, 50);
		expect(limit.current).toBe(20);
		// A refusal after the echoes have passed is news: halve again.
		limit.sent();
		limit.refused();
		expect(limit.current).toBe(10);
	});

	it('cuts by a quarter when a round answers more than twice as slowly as the fastest and SLOWER_BY_MS more', () => {
		const limit = new AdaptiveLimit(100);
		answerRounds(limit, 2, 40); // 4 -> 8 -> 16, fastest round 40 ms
		expect(limit.current).toBe(16);
		answerRounds(limit, 1, 79); // slower, but not twice: grows
		expect(limit.current).toBe(32);
		answerRounds(limit, 1, 81 + SLOWER_BY_MS);
		expect(limit.current).toBe(24);
		answerRounds(limit, 1, 40); // the cut helped: after trouble, one more per round
		expect(limit.current).toBe(25);
		// On 127.0.0.1 answers take milliseconds: 2 ms to 26 ms is n8n getting busy, not Copernica.
		const local = new AdaptiveLimit(100);
		answerRounds(local, 1, 2);
		answerRounds(local, 2, 2 + SLOWER_BY_MS - 1);
		expect(local.current).toBe(32);
	});

	it('undoes a cut for slower answers when fewer calls did not make them faster (everything got slower)', () => {
		const limit = new AdaptiveLimit(100);
		answerRounds(limit, 3, 50); // 4 -> 8 -> 16 -> 32, fastest 50 ms
		answerRounds(limit, 1, 200); // slower: 32 -> 24
		expect(limit.current).toBe(24);
		answerRounds(limit, 1, 190); // no faster with fewer calls: back to 32 (and one more)
		expect(limit.current).toBe(33);
		answerRounds(limit, 1, 200); // 190-200 ms is normal now: no cut, and doubling as before
		expect(limit.current).toBe(66);
		answerRounds(limit, 1, 381 + SLOWER_BY_MS); // twice the new normal: cut again, from the round's 66
		expect(limit.current).toBe(49);
	});

	it('never goes below 1, and a call without an answer changes nothing', () => {
		const limit = new AdaptiveLimit(10);
		for (let i = 0; i < 20; i++) {
			limit.sent();
			limit.refused();
			limit.sent();
			limit.failed();
		}
		expect(limit.current).toBe(1);
	});
});

describe('mapInOrder with an AdaptiveLimit against a server that refuses calls above its limit', () => {
	/**
	 * A simulated Copernica: a call is answered after `turns` microtask turns (its latency); one
	 * that arrives while `refuseAbove` calls are already in flight is refused at once and, like
	 * the transport does, tried again after a pause (more turns).
	 */
	async function simulate({ items, maximum, refuseAbove }: { items: number; maximum: number; refuseAbove: number }) {
		const limit = new AdaptiveLimit(maximum);
		let inFlight = 0;
		let mostInFlight = 0;
		let mostAllowed = 0;
		let refusals = 0;
		const call = async (): Promise<void> => {
			limit.sent();
			if (inFlight >= refuseAbove) {
				refusals++;
				limit.refused();
				await settle(3);
				return await call();
			}
			inFlight++;
			mostInFlight = Math.max(mostInFlight, inFlight);
			await settle(10);
			inFlight--;
			limit.answered(50);
		};
		const output = await mapInOrder(items, limit, async (index) => {
			mostAllowed = Math.max(mostAllowed, limit.current);
			await call();
			return index;
		});
		return { output, mostInFlight, mostAllowed, refusals };
	}

	it('finishes every item in order with few refusals, never above the maximum', async () => {
		const { output, mostInFlight, refusals } = await simulate({ items: 1000, maximum: 50, refuseAbove: 20 });
		expect(output).toEqual(Array.from({ length: 1000 }, (_, i) => i));
		expect(mostInFlight).toBeLessThanOrEqual(20);
		expect(refusals).toBeGreaterThan(0);
		expect(refusals).toBeLessThan(50);
	});

	it('grows to the user maximum when nothing refuses, and not beyond', async () => {
		const { output, mostInFlight, mostAllowed, refusals } = await simulate({ items: 500, maximum: 30, refuseAbove: Infinity });
		expect(output).toHaveLength(500);
		expect(refusals).toBe(0);
		expect(mostAllowed).toBe(30);
		// A task still counts for the limit a moment after the server has answered it.
		expect(mostInFlight).toBeGreaterThan(20);
		expect(mostInFlight).toBeLessThanOrEqual(30);
	});
});
