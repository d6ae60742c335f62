import { createHash } from 'crypto';

import {
	DEFAULT_POLL_POLICY,
	backoffIntervalMs,
	checksUntilReady,
	nextPollDelayMs,
	pollPolicyFromSeconds,
	pollTimesMs,
} from '../../nodes/Copernica/helpers/backoff';
import { isFileOf } from '../../nodes/Copernica/helpers/dataFile';
import { newResumeCheck, RESUME_CHECK_PARAMETER, resumeCheckMatches, withQueryParameter } from '../../nodes/Copernica/helpers/resumeUrl';

const HOUR = 3_600_000;

describe('backoffIntervalMs', () => {
	it('starts at the first interval, doubles, and stops growing at the cap', () => {
		const waits = Array.from({ length: 9 }, (_, i) => backoffIntervalMs(i + 1));
		expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
	});
	it('follows another policy', () => {
		const policy = { firstIntervalMs: 500, factor: 3, maxIntervalMs: 10_000 };
		expect([1, 2, 3, 4, 5].map((n) => backoffIntervalMs(n, policy))).toEqual([500, 1_500, 4_500, 10_000, 10_000]);
	});
});

describe('pollTimesMs: when the checks of a file that never comes happen', () => {
	it('doubles the gaps, caps them at 60 s and puts the last check on the deadline', () => {
		expect(pollTimesMs(300_000)).toEqual([0, 1_000, 3_000, 7_000, 15_000, 31_000, 63_000, 123_000, 183_000, 243_000, 300_000]);
	});
	it('never checks after the deadline, and not again when less than the first interval is left', () => {
		expect(pollTimesMs(5_000)).toEqual([0, 1_000, 3_000, 5_000]);
		expect(pollTimesMs(7_500)).toEqual([0, 1_000, 3_000, 7_000]);
		expect(pollTimesMs(0)).toEqual([0]);
		expect(pollTimesMs(999)).toEqual([0]);
	});
	it('keeps every gap at least the first interval and at most the cap', () => {
		for (const maxWaitMs of [10_000, 59_000, 61_000, 3_600_000]) {
			const times = pollTimesMs(maxWaitMs);
			const gaps = times.slice(1).map((time, i) => time - times[i]);
			expect(Math.min(...gaps)).toBeGreaterThanOrEqual(DEFAULT_POLL_POLICY.firstIntervalMs);
			expect(Math.max(...gaps)).toBeLessThanOrEqual(DEFAULT_POLL_POLICY.maxIntervalMs);
			expect(times[times.length - 1]).toBeLessThanOrEqual(maxWaitMs);
		}
	});
});

describe('checksUntilReady: what a file ready after T costs', () => {
	it.each([
		[0, 1],
		[1_000, 2],
		[5_000, 4],
		[7_000, 4],
		[60_000, 7],
		[120_000, 8],
	])('T = %i ms: %i checks', (readyAfterMs, checks) => {
		expect(checksUntilReady(readyAfterMs, HOUR)).toBe(checks);
	});

	it('grows with log2(T) below the cap, not with T', () => {
		const policy = { firstIntervalMs: 1_000, factor: 2, maxIntervalMs: 24 * HOUR };
		for (const seconds of [2, 10, 100, 1_000, 10_000]) {
			const checks = checksUntilReady(seconds * 1_000, 24 * HOUR, policy);
			// checks at 0, 1, 3, 7, ... 2^k - 1 seconds: the first at or after T is the (log2(T + 1) + 1)th
			expect(checks).toBe(Math.ceil(Math.log2(seconds + 1)) + 1);
		}
		expect(checksUntilReady(10_000_000, 24 * HOUR, policy)).toBeLessThan(30);
	});

	it('grows with T / cap above the cap: an hour costs 66 checks at 60 s, 16 at 10 minutes', () => {
		expect(checksUntilReady(HOUR, 2 * HOUR)).toBe(66);
		expect(checksUntilReady(HOUR, 2 * HOUR, pollPolicyFromSeconds(1, 600))).toBe(16);
	});

	it('counts every check when the file does not come in time', () => {
		expect(checksUntilReady(HOUR, 300_000)).toBe(pollTimesMs(300_000).length);
	});
});

describe('nextPollDelayMs', () => {
	const state = { checks: 3, elapsedMs: 3_000, maxWaitMs: 60_000 };
	it('waits for the backoff interval', () => {
		expect(nextPollDelayMs(state)).toBe(4_000);
	});
	it("waits at least as long as Copernica's Retry-After", () => {
		expect(nextPollDelayMs({ ...state, retryAfterMs: 30_000 })).toBe(30_000);
		expect(nextPollDelayMs({ ...state, retryAfterMs: 1_000 })).toBe(4_000);
	});
	it('stops when Copernica asks to wait past the deadline', () => {
		expect(nextPollDelayMs({ ...state, retryAfterMs: 58_000 })).toBeUndefined();
	});
	it('shortens the last wait to end on the deadline', () => {
		expect(nextPollDelayMs({ checks: 6, elapsedMs: 40_000, maxWaitMs: 60_000 })).toBe(20_000);
		expect(nextPollDelayMs({ checks: 6, elapsedMs: 59_500, maxWaitMs: 60_000 })).toBeUndefined();
		expect(nextPollDelayMs({ checks: 6, elapsedMs: 61_000, maxWaitMs: 60_000 })).toBeUndefined();
	});
});

describe('pollPolicyFromSeconds', () => {
	it('reads seconds, falls back to the defaults, and keeps the cap above the first interval', () => {
		expect(pollPolicyFromSeconds(2, 30)).toEqual({ firstIntervalMs: 2_000, factor: 2, maxIntervalMs: 30_000 });
		expect(pollPolicyFromSeconds(undefined, '')).toEqual(DEFAULT_POLL_POLICY);
		expect(pollPolicyFromSeconds(-1, 0)).toEqual(DEFAULT_POLL_POLICY);
		expect(pollPolicyFromSeconds(0.1, 6)).toEqual({ firstIntervalMs: 100, factor: 2, maxIntervalMs: 6_000 });
		expect(pollPolicyFromSeconds(90, 60)).toEqual({ firstIntervalMs: 90_000, factor: 2, maxIntervalMs: 90_000 });
	});
});

describe('resume URL', () => {
	it('adds the check after whatever n8n put in the URL, leaving that byte for byte', () => {
		const n8n1 = 'https://n8n.example.com/webhook-waiting/417';
		expect(withQueryParameter(n8n1, RESUME_CHECK_PARAMETER, 'abc')).toBe(`${n8n1}?copernica_check=abc`);
		// n8n 2.x: ?signature=<token>; a token with characters URLSearchParams would re-encode stays as it is
		const n8n2 = 'https://n8n.example.com/webhook-waiting/417?signature=9f2c%2Fa~b.c_d-e';
		expect(withQueryParameter(n8n2, 'copernica_check', 'x-Y_z')).toBe(`${n8n2}&copernica_check=x-Y_z`);
		expect(withQueryParameter('https://h/p?', 'a', 'b c&d')).toBe('https://h/p?a=b%20c%26d');
		expect(withQueryParameter('https://h/p?x=1#frag', 'a', 'b')).toBe('https://h/p?x=1&a=b#frag');
	});

	it('makes a new random check value for every wait, and keeps only its hash', () => {
		const first = newResumeCheck();
		const second = newResumeCheck();
		expect(first.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
		expect(second.value).not.toBe(first.value);
		expect(first.sha256).toBe(createHash('sha256').update(first.value).digest('base64url'));
		expect(first.sha256).not.toContain(first.value);
	});

	it('accepts only the value whose hash was kept', () => {
		const { value, sha256 } = newResumeCheck();
		expect(resumeCheckMatches(value, sha256)).toBe(true);
		expect(resumeCheckMatches(`${value.slice(0, -1)}A`, sha256)).toBe(value.endsWith('A'));
		expect(resumeCheckMatches(sha256, sha256)).toBe(false);
		expect(resumeCheckMatches(undefined, sha256)).toBe(false);
		expect(resumeCheckMatches([value], sha256)).toBe(false);
		expect(resumeCheckMatches(value, undefined)).toBe(false);
		expect(resumeCheckMatches('', '')).toBe(false);
	});
});

describe('isFileOf', () => {
	it('matches type and id; emails without regard to case, ids as text', () => {
		expect(isFileOf({ type: 'email', id: 'Someone@Example.com' }, 'email', 'someone@example.com')).toBe(true);
		expect(isFileOf({ type: 'email', id: 'someone@example.com' }, 'email', 'other@example.com')).toBe(false);
		expect(isFileOf({ type: 'profile', id: 123 }, 'profile', '123')).toBe(true);
		expect(isFileOf({ type: 'profile', id: '123' }, 'subprofile', '123')).toBe(false);
		expect(isFileOf({ type: 'profile', id: 1234 }, 'profile', '123')).toBe(false);
	});
});
