import type { IExecuteFunctions } from 'n8n-workflow';

/**
 * How many items are worked on at the same time. Copernica answers each call after a network
 * round trip, so one-by-one processing spends nearly all its time waiting; calls in flight overlap
 * those waits. How many Copernica takes is not documented and differs by account and moment, so
 * the limit adapts (AdaptiveLimit): it starts small, grows while answers come back fast and clean,
 * and shrinks at once when Copernica refuses (429, 503) or answers get slower. The user's
 * "Concurrency" is its upper bound.
 */
// 50: over a 50 ms round trip the limit needs about 30-50 calls in flight to match n8n's HTTP
// Request node (which sends every item at once); on 127.0.0.1 it settles far lower by itself
// (answers slow down as n8n gets busy), and a refusal halves it at once (bench/RESULTS.md).
export const DEFAULT_CONCURRENCY = 50;
export const MAX_CONCURRENCY = 100;
/** Calls in flight at the start: a burst this small is harmless to any account. */
export const START_CONCURRENCY = 4;
/**
 * Answers count as slower when their average over a round is more than twice the fastest round's
 * and at least this much above it: a few milliseconds more is n8n itself getting busy, not
 * Copernica.
 */
export const SLOWER_BY_MS = 25;

/** The "Concurrency" option as a usable count: whole, 1..MAX_CONCURRENCY, the default when unreadable. */
export function concurrencyLimit(value: unknown): number {
	const count = Number(value);
	if (value === undefined || value === null || value === '' || !Number.isFinite(count)) return DEFAULT_CONCURRENCY;
	return Math.min(MAX_CONCURRENCY, Math.max(1, Math.floor(count)));
}

/**
 * The number of calls that may be in flight, learned from the answers (additive increase,
 * multiplicative decrease, as TCP does with its window):
 * - it starts at START_CONCURRENCY (or the maximum, if lower) and grows by one per clean answer,
 *   so it doubles each round trip, until the first sign of trouble;
 * - a refusal (429, 503) halves it at once; refusals of calls that were already in flight when it
 *   was halved do not halve it again (they answer what was sent under the old limit);
 * - a round (as many answers as the limit at its start) whose average answer time is more than
 *   twice the fastest round's, and SLOWER_BY_MS above it, cuts that round's limit by a quarter;
 *   when the round after that cut is not at least a fifth faster, the slowness was not the node's
 *   (the network or Copernica got slower for everyone): the cut is undone (growth goes on as before)
 *   and that answer time becomes the new normal, so that a slow day does not push the limit to 1;
 * - after the first trouble it grows by one per round only, probing carefully;
 * - never below 1, never above the maximum.
 * Pure: answer times are handed in, so tests drive it without a clock.
 */
export class AdaptiveLimit {
	private value: number;
	private careful = false;
	private round = { size: 0, answers: 0, totalMs: 0 };
	private fastestRoundMs: number | undefined;
	/** The last cut for slower answers, until the next round shows whether it helped. */
	private latencyCut: { averageMs: number; value: number; careful: boolean } | undefined;
	/** Answers still due from calls sent before the last cut: their refusals are echoes. */
	private echoes = 0;
	private inFlight = 0;
	private readonly waiting: Array<() => void> = [];
	/** Called when the limit rose, so that waiting work can start. */
	onRaise?: () => void;

	constructor(readonly maximum: number, start = START_CONCURRENCY) {
		this.value = Math.max(1, Math.min(maximum, start));
		this.round.size = this.current;
	}

	/** Calls that may be in flight now. */
	get current(): number {
		return Math.max(1, Math.floor(this.value));
	}

	/** A call was sent. */
	sent(): void {
		this.inFlight++;
	}

	/** A call came back with an answer that is not a refusal, after `ms`. */
	answered(ms: number): void {
		this.settle();
		const before = this.current;
		this.round.answers++;
		this.round.totalMs += ms;
		if (this.round.answers >= this.round.size) this.endRound();
		else if (!this.careful) this.value = Math.min(this.maximum, this.value + 1);
		if (this.current > before) this.onRaise?.();
	}

	/** A call was refused (429 Too Many Requests, 503 Service Unavailable): halve, unless an echo. */
	refused(): void {
		const echo = this.echoes > 0;
		this.settle();
		if (echo) return;
		this.cut(0.5);
	}

	/** A call ended without any answer (connection failure): it says nothing about the load. */
	failed(): void {
		this.settle();
	}

	private settle(): void {
		this.inFlight = Math.max(0, this.inFlight - 1);
		if (this.echoes > 0) this.echoes--;
		while (this.waiting.length > 0 && this.inFlight < this.current) this.waiting.shift()?.();
	}

	/**
	 * Resolves when fewer calls than the limit are in flight: a refused call waits for this before
	 * it is tried again, so that its retry does not meet the same overload.
	 */
	async room(): Promise<void> {
		if (this.inFlight < this.current) return;
		await new Promise<void>((resolve) => this.waiting.push(resolve));
	}

	private endRound(): void {
		const averageMs = this.round.totalMs / this.round.answers;
		const lastCut = this.latencyCut;
		this.latencyCut = undefined;
		if (lastCut !== undefined && averageMs > 0.8 * lastCut.averageMs) {
			// Fewer calls did not make the answers faster: the slowness is not this node's doing (the
			// network or Copernica as a whole got slower). That is the new normal; the cut is undone.
			this.fastestRoundMs = averageMs;
			this.value = Math.max(this.value, lastCut.value);
			this.careful = lastCut.careful;
		} else {
			const fastest = this.fastestRoundMs;
			if (fastest === undefined || averageMs < fastest) this.fastestRoundMs = averageMs;
			if (fastest !== undefined && averageMs > 2 * fastest && averageMs - fastest >= SLOWER_BY_MS) {
				// From the limit the round was sent under: what it grew meanwhile was more of the same.
				this.value = Math.min(this.value, this.round.size);
				this.latencyCut = { averageMs, value: this.value, careful: this.careful };
				this.cut(0.75);
				return;
			}
		}
		this.value = Math.min(this.maximum, this.value + 1);
		this.newRound();
	}

	private newRound(): void {
		this.round = { size: this.current, answers: 0, totalMs: 0 };
	}

	private cut(factor: number): void {
		this.value = Math.max(1, Math.floor(this.value * factor));
		this.careful = true;
		this.newRound();
		this.echoes = this.inFlight;
	}
}

const limitsPerRun = new WeakMap<object, AdaptiveLimit>();

/**
 * The limit of one node run, shared by all its items and calls (keyed by the execution context,
 * which n8n makes once per node run): the transport reports every call's answer to it.
 */
export function runLimit(context: object, maximum: number): AdaptiveLimit {
	let limit = limitsPerRun.get(context);
	if (limit === undefined) {
		limit = new AdaptiveLimit(maximum);
		limitsPerRun.set(context, limit);
	}
	return limit;
}

/** The run's limit, up to the user's Concurrency option. */
export function runLimitOf(context: IExecuteFunctions): AdaptiveLimit {
	return runLimit(context, concurrencyLimit(context.getNodeParameter('options.concurrency', 0, DEFAULT_CONCURRENCY)));
}

/** The run's limit, if it has one (the trigger and webhooks have none). */
export function runLimitIfAny(context: object): AdaptiveLimit | undefined {
	return limitsPerRun.get(context);
}

/**
 * Runs task(0) .. task(count - 1) with at most `limit` running at once (a number, or an
 * AdaptiveLimit read before each start) and returns the results in index order, whatever order
 * they finish in. Once a task has failed no new task starts; the ones already running are awaited
 * (nothing is left in flight), then the failure of the lowest index is thrown, so the error is the
 * first failing item's, as in a one-by-one run.
 */
export async function mapInOrder<T>(
	count: number,
	limit: number | AdaptiveLimit,
	task: (index: number) => Promise<T>,
): Promise<T[]> {
	const results = new Array<T>(count);
	const allowed = typeof limit === 'number' ? () => Math.max(1, limit) : () => limit.current;
	let next = 0;
	let running = 0;
	let failure: { index: number; error: unknown } | undefined;
	return await new Promise<T[]>((resolve, reject) => {
		const fill = () => {
			while (failure === undefined && next < count && running < allowed()) start(next++);
			if (running > 0 || (failure === undefined && next < count)) return;
			if (failure !== undefined) reject(failure.error);
			else resolve(results);
		};
		const start = (index: number) => {
			running++;
			void (async () => await task(index))().then(
				(result) => {
					results[index] = result;
				},
				(error: unknown) => {
					if (failure === undefined || index < failure.index) failure = { index, error };
				},
			).finally(() => {
				running--;
				fill();
			});
		};
		if (typeof limit !== 'number') limit.onRaise = fill;
		fill();
	});
}
