// Virtual time for engine tests of waits and retries: `Date` stands still and moves only when the
// node sleeps. The node's `sleep`/`sleepWithAbort` (from n8n-workflow) are replaced by functions
// that move the clock forward by the time asked and return at once. The sandbox's clock is
// `Date.now()`-based, so the node and Copernica's stand-in see the same time, and a test asserts
// how many calls were made and when (in that clock) however busy the machine is.
//
// Use in a test file, before anything imports the node:
//   jest.mock('n8n-workflow', () => require('./virtual-time').workflowWithVirtualSleep());
//   useVirtualTime();
// Timers, sockets and promises stay real: only Date is faked.

const REAL_TIMER_APIS = [
	'hrtime',
	'nextTick',
	'performance',
	'queueMicrotask',
	'requestAnimationFrame',
	'cancelAnimationFrame',
	'requestIdleCallback',
	'cancelIdleCallback',
	'setImmediate',
	'clearImmediate',
	'setInterval',
	'clearInterval',
	'setTimeout',
	'clearTimeout',
] as const;

/** What the node slept, in order (ms): a test can assert the schedule itself. */
export const sleeps: number[] = [];
/**
 * Called at every sleep, after it is counted. Returning 'hold' makes that sleep never end by
 * itself: only the node's own cancellation handling can get it going again.
 */
export const onSleep: { current?: (count: number) => 'hold' | void } = {};

async function virtualSleep(ms: number): Promise<void> {
	sleeps.push(ms);
	if (onSleep.current?.(sleeps.length) === 'hold') return await new Promise<void>(() => {});
	jest.setSystemTime(Date.now() + ms);
	// Let the sandbox's ticker and pending I/O see the new time before the node goes on.
	await new Promise((resolve) => setImmediate(resolve));
}

export function workflowWithVirtualSleep() {
	const actual = jest.requireActual('n8n-workflow');
	return { ...actual, sleep: virtualSleep };
}

export function useVirtualTime(): void {
	beforeAll(() => {
		jest.useFakeTimers({ doNotFake: [...REAL_TIMER_APIS], now: Date.parse('2026-12-01T09:00:00Z') });
	});
	beforeEach(() => {
		sleeps.length = 0;
		onSleep.current = undefined;
	});
	afterAll(() => {
		jest.useRealTimers();
	});
}
