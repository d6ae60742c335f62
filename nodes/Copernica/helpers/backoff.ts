/**
 * When Get checks again while it waits for a data request file. Every check is an API call that
 * Copernica counts towards the account's consumption, and a file takes minutes to hours, so the
 * checks thin out: the first wait is short, each next one twice as long, up to a maximum interval,
 * and never past the user's maximum wait. A file that is ready after T seconds therefore costs
 * about log2(T) checks while T is below the maximum interval, and T / (maximum interval) after.
 * Pure, so that the schedule is unit tested; get.operation.ts does the sleeping.
 */

export interface PollPolicy {
	/** The wait after the first check. */
	firstIntervalMs: number;
	/** Each further wait is this many times the one before... */
	factor: number;
	/** ...but never longer than this. */
	maxIntervalMs: number;
}

export const DEFAULT_POLL_POLICY: PollPolicy = { firstIntervalMs: 1_000, factor: 2, maxIntervalMs: 60_000 };

/** The backoff wait after check number `checks` (1 for the first check). */
export function backoffIntervalMs(checks: number, policy: PollPolicy = DEFAULT_POLL_POLICY): number {
	const grown = policy.firstIntervalMs * policy.factor ** Math.max(0, checks - 1);
	return Math.min(policy.maxIntervalMs, Math.max(policy.firstIntervalMs, grown));
}

export interface PollState {
	/** Checks made so far (at least 1). */
	checks: number;
	/** Time since the first check started. */
	elapsedMs: number;
	/** The user's maximum wait, counted from the first check. */
	maxWaitMs: number;
	/** Retry-After that came with the last "pending" answer, if any. */
	retryAfterMs?: number;
}

/**
 * How long to sleep before the next check, or undefined when there is to be no next check: the
 * deadline has come, the server asked not to come back before the deadline, or the time left is
 * shorter than the first interval (a check that soon after the last one tells nothing new).
 * The last check lands on the deadline rather than after it.
 */
export function nextPollDelayMs(state: PollState, policy: PollPolicy = DEFAULT_POLL_POLICY): number | undefined {
	const remaining = state.maxWaitMs - state.elapsedMs;
	const asked = state.retryAfterMs ?? 0;
	if (asked > remaining) return undefined;
	const delay = Math.max(backoffIntervalMs(state.checks, policy), asked);
	if (delay <= remaining) return delay;
	return remaining >= policy.firstIntervalMs ? remaining : undefined;
}

/**
 * The moments (ms after the first check) at which checks happen for a file that never becomes
 * ready, if every answer came instantly and without Retry-After.
 */
export function pollTimesMs(maxWaitMs: number, policy: PollPolicy = DEFAULT_POLL_POLICY): number[] {
	const times = [0];
	for (;;) {
		const elapsedMs = times[times.length - 1];
		const delay = nextPollDelayMs({ checks: times.length, elapsedMs, maxWaitMs }, policy);
		if (delay === undefined) return times;
		times.push(elapsedMs + delay);
	}
}

/**
 * How many checks find a file that becomes ready `readyAfterMs` after the first check (instant
 * answers), or all checks made when it is not ready within the maximum wait.
 */
export function checksUntilReady(
	readyAfterMs: number,
	maxWaitMs: number,
	policy: PollPolicy = DEFAULT_POLL_POLICY,
): number {
	const times = pollTimesMs(maxWaitMs, policy);
	const found = times.findIndex((time) => time >= readyAfterMs);
	return found === -1 ? times.length : found + 1;
}

/**
 * A policy from the node's options (seconds), with the defaults where a value is missing or not a
 * positive number; the maximum interval is never below the first one.
 */
export function pollPolicyFromSeconds(firstIntervalSeconds: unknown, maxIntervalSeconds: unknown): PollPolicy {
	const positive = (value: unknown, fallback: number) => {
		const number = Number(value);
		return value !== '' && value !== null && Number.isFinite(number) && number > 0 ? number * 1000 : fallback;
	};
	const firstIntervalMs = positive(firstIntervalSeconds, DEFAULT_POLL_POLICY.firstIntervalMs);
	const maxIntervalMs = Math.max(firstIntervalMs, positive(maxIntervalSeconds, DEFAULT_POLL_POLICY.maxIntervalMs));
	return { firstIntervalMs, factor: DEFAULT_POLL_POLICY.factor, maxIntervalMs };
}
