import {
	backoffDelayMs,
	BASE_DELAY_MS,
	DEFAULT_RETRIES,
	isRetryable,
	MAX_BACKOFF_MS,
	MAX_RETRIES,
	MAX_RETRY_AFTER_MS,
	outcomeUnknown,
	parseRetryAfterMs,
	retryCount,
	retryDelayMs,
	type Fault,
} from '../../nodes/Copernica/helpers/retry';
import { describeHttpFailure } from '../../nodes/Copernica/helpers/failure';

const status = (statusCode: number, retryAfter?: string): Fault => ({ statusCode, retryAfter });
const connection = (connectionCode: string | undefined): Fault => ({ connectionCode });

describe('isRetryable: the policy per method and fault', () => {
	// [fault, GET retried, POST retried, POST outcome unknown]
	const table: Array<[string, Fault, boolean, boolean, boolean]> = [
		['429', status(429), true, true, false],
		['429 with Retry-After', status(429, '2'), true, true, false],
		['502', status(502), true, false, true],
		['503', status(503), true, true, false],
		['504', status(504), true, false, true],
		['400', status(400), false, false, false],
		['401', status(401), false, false, false],
		['403', status(403), false, false, false],
		['404', status(404), false, false, false],
		['409', status(409), false, false, false],
		['500', status(500), false, false, false],
		['ECONNREFUSED', connection('ECONNREFUSED'), true, true, false],
		['EHOSTUNREACH', connection('EHOSTUNREACH'), true, true, false],
		['ENETUNREACH', connection('ENETUNREACH'), true, true, false],
		['EAI_AGAIN', connection('EAI_AGAIN'), true, true, false],
		['ECONNRESET', connection('ECONNRESET'), true, false, true],
		['EPIPE', connection('EPIPE'), true, false, true],
		['ETIMEDOUT', connection('ETIMEDOUT'), true, false, true],
		['ECONNABORTED (timeout)', connection('ECONNABORTED'), true, false, true],
		['ESOCKETTIMEDOUT', connection('ESOCKETTIMEDOUT'), true, false, true],
		['ENOTFOUND (wrong host name)', connection('ENOTFOUND'), false, false, false],
		['ERR_CANCELED', connection('ERR_CANCELED'), false, false, false],
		['no code (e.g. a TLS certificate error)', connection(undefined), false, false, false],
	];
	it.each(table)('%s', (_name, fault, get, post, unknown) => {
		expect(isRetryable('GET', fault)).toBe(get);
		expect(isRetryable('POST', fault)).toBe(post);
		expect(outcomeUnknown('POST', fault)).toBe(unknown);
		expect(outcomeUnknown('GET', fault)).toBe(false);
	});

	it('treats PATCH like POST and PUT/DELETE like GET', () => {
		expect(isRetryable('PATCH', connection('ECONNRESET'))).toBe(false);
		expect(isRetryable('PUT', connection('ECONNRESET'))).toBe(true);
		expect(isRetryable('DELETE', status(504))).toBe(true);
	});
});

describe('backoffDelayMs: exponential backoff with full jitter', () => {
	it('draws from 0 up to base * 2^(retry-1)', () => {
		expect([1, 2, 3, 4].map((retry) => backoffDelayMs(retry, () => 0))).toEqual([0, 0, 0, 0]);
		const ceilings = [1, 2, 3, 4, 5].map((retry) => backoffDelayMs(retry, () => 0.999999));
		expect(ceilings).toEqual([1, 2, 4, 8, 16].map((factor) => BASE_DELAY_MS * factor - 1));
		expect(backoffDelayMs(2, () => 0.5)).toBe(BASE_DELAY_MS);
	});

	it('is capped', () => {
		expect(backoffDelayMs(30, () => 0.999999)).toBe(MAX_BACKOFF_MS - 1);
		expect(backoffDelayMs(1000, () => 0.999999)).toBe(MAX_BACKOFF_MS - 1);
	});

	it('spreads waits out (full jitter) and keeps them in range', () => {
		const waits = Array.from({ length: 2000 }, () => backoffDelayMs(3));
		expect(Math.min(...waits)).toBeGreaterThanOrEqual(0);
		expect(Math.max(...waits)).toBeLessThan(BASE_DELAY_MS * 4);
		expect(new Set(waits).size).toBeGreaterThan(100);
		const mean = waits.reduce((sum, wait) => sum + wait, 0) / waits.length;
		expect(mean).toBeGreaterThan(BASE_DELAY_MS * 1.6);
		expect(mean).toBeLessThan(BASE_DELAY_MS * 2.4);
	});
});

describe('parseRetryAfterMs', () => {
	const now = Date.parse('2025-03-01T12:00:00Z');
	it.each([
		['0', 0],
		['7', 7000],
		[' 120 ', 120000],
		['Sat, 01 Mar 2025 12:00:30 GMT', 30000],
		['Sat, 01 Mar 2025 11:59:00 GMT', 0], // in the past: no wait
		['Saturday, 01-Mar-25 12:00:05 GMT', 5000], // RFC 850 form
	])('%j -> %s ms', (value, ms) => {
		expect(parseRetryAfterMs(value, now)).toBe(ms);
	});
	it.each([undefined, '', 'soon', '-5', '1.5', '2025-03-01'])('%j is unreadable', (value) => {
		expect(parseRetryAfterMs(value, now)).toBeUndefined();
	});
});

describe('retryDelayMs', () => {
	const now = Date.parse('2025-03-01T12:00:00Z');
	it('uses the backoff when there is no Retry-After', () => {
		expect(retryDelayMs(2, status(503), () => 0.5, now)).toBe(BASE_DELAY_MS);
		expect(retryDelayMs(1, connection('ECONNRESET'), () => 0.5, now)).toBe(BASE_DELAY_MS / 2);
		expect(retryDelayMs(1, status(429, 'later'), () => 0.5, now)).toBe(BASE_DELAY_MS / 2);
	});
	it("honours Copernica's Retry-After, in seconds or as a date", () => {
		expect(retryDelayMs(1, status(429, '3'), () => 0.5, now)).toBe(3000);
		expect(retryDelayMs(3, status(503, 'Sat, 01 Mar 2025 12:00:10 GMT'), () => 0.5, now)).toBe(10000);
		expect(retryDelayMs(1, status(429, String(MAX_RETRY_AFTER_MS / 1000)), () => 0.5, now)).toBe(MAX_RETRY_AFTER_MS);
	});
	it('does not retry when Copernica asks for a longer wait than the cap', () => {
		expect(retryDelayMs(1, status(429, String(MAX_RETRY_AFTER_MS / 1000 + 1)), () => 0.5, now)).toBeUndefined();
		expect(retryDelayMs(1, status(429, 'Sat, 01 Mar 2025 13:00:00 GMT'), () => 0.5, now)).toBeUndefined();
	});
});

describe('retryCount: the "Retries" option', () => {
	it.each([
		[undefined, DEFAULT_RETRIES],
		[null, DEFAULT_RETRIES],
		['', DEFAULT_RETRIES],
		['x', DEFAULT_RETRIES],
		[0, 0],
		[2, 2],
		['5', 5],
		[2.7, 2],
		[-1, 0],
		[99, MAX_RETRIES],
	])('%j -> %s', (value, count) => {
		expect(retryCount(value)).toBe(count);
	});
	it('defaults to a few retries', () => {
		expect(DEFAULT_RETRIES).toBe(3);
	});
});

describe('describeHttpFailure and Retry-After', () => {
	it('says seconds only for the seconds form', () => {
		expect(describeHttpFailure(429, '', '7').description).toContain('(retry after 7 s)');
		expect(describeHttpFailure(429, '', 'Sat, 01 Mar 2025 12:00:10 GMT').description).toContain(
			'(retry after Sat, 01 Mar 2025 12:00:10 GMT)',
		);
	});
});
