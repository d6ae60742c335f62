/**
 * Items processed at the same time. Copernica answers each call after a network round trip, so
 * one-by-one processing spends nearly all its time waiting; a few calls in flight overlap those
 * waits. The limit keeps the node polite: never more than `limit` calls from one node at once, and
 * a call that meets a 429 waits (transport retries) before its worker starts anything new.
 */
// 10: on 127.0.0.1, 5 calls in flight still left n8n waiting between answers and no faster than
// n8n's HTTP Request node, which sends every item at once; 10 is measurably faster, and about
// doubles throughput over a 50 ms round trip, while staying far from a burst (bench/RESULTS.md).
export const DEFAULT_CONCURRENCY = 10;
export const MAX_CONCURRENCY = 50;

/** The "Concurrency" option as a usable count: whole, 1..MAX_CONCURRENCY, the default when unreadable. */
export function concurrencyLimit(value: unknown): number {
	const count = Number(value);
	if (value === undefined || value === null || value === '' || !Number.isFinite(count)) return DEFAULT_CONCURRENCY;
	return Math.min(MAX_CONCURRENCY, Math.max(1, Math.floor(count)));
}

/**
 * Runs task(0) .. task(count - 1) with at most `limit` running at once and returns the results in
 * index order, whatever order they finish in. Once a task has failed no new task starts; the ones
 * already running are awaited (nothing is left in flight), then the failure of the lowest index is
 * thrown, so the error is the first failing item's, as in a one-by-one run.
 */
export async function mapInOrder<T>(count: number, limit: number, task: (index: number) => Promise<T>): Promise<T[]> {
	const results = new Array<T>(count);
	let next = 0;
	let failure: { index: number; error: unknown } | undefined;
	// Read and written through functions: TypeScript does not follow assignments across awaits.
	const failed = () => failure;
	const fail = (index: number, error: unknown) => {
		if (failure === undefined || index < failure.index) failure = { index, error };
	};
	const worker = async () => {
		while (failed() === undefined && next < count) {
			const index = next++;
			try {
				results[index] = await task(index);
			} catch (error) {
				fail(index, error);
			}
		}
	};
	await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, count)) }, worker));
	const first = failed();
	if (first !== undefined) throw first.error;
	return results;
}
