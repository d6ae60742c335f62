/**
 * When a failed call to Copernica is tried again, and after how long. Pure, so that the policy is
 * unit tested; the transport does the waiting.
 *
 * GETs only read, so every temporary fault is retried. A POST creates a data request, and a second
 * one for the same person is a duplicate that Copernica would assemble and report twice, so a POST
 * is retried only when the fault proves that Copernica did not process it:
 * - 429 Too Many Requests: the rate limiter refused the request (RFC 6585: "not processed");
 * - 503 Service Unavailable, HTML or JSON: the server (in practice the load balancer, with its HTML
 *   page) says it cannot handle the request now (RFC 9110 15.6.4), so it was not handled;
 * - a connection that was never made (refused, host unreachable, DNS lookup failed for now): not a
 *   byte of the request reached anyone.
 * A POST is not retried after a reset, a timeout, a 502 or a 504: the request may have reached the
 * API and been processed before the answer was lost (a 504 is the load balancer giving up while the
 * API still works on it). The user is told to check before running the item again.
 * Never retried for any method: 4xx other than 429 (the request itself is wrong) and 500.
 */
import type { IHttpRequestMethods } from 'n8n-workflow';

export const DEFAULT_RETRIES = 3;
export const MAX_RETRIES = 10;
/** First wait, drawn from 0..BASE; it doubles per retry ("full jitter"), up to MAX_BACKOFF_MS. */
export const BASE_DELAY_MS = 250;
export const MAX_BACKOFF_MS = 8_000;
/** A Retry-After longer than this is not waited for: the item fails and says how long to wait. */
export const MAX_RETRY_AFTER_MS = 30_000;

/** What went wrong with one attempt: an HTTP answer, or no answer (a Node error code, if known). */
export type Fault = { statusCode: number; retryAfter?: string } | { connectionCode: string | undefined };

/** Codes of connections that were never made: the request cannot have been processed. */
const NEVER_SENT = ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'];
/** Codes of connections lost after the request may have been sent: safe to repeat only for a GET. */
const LOST_AFTER_SENDING = ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ESOCKETTIMEDOUT'];

const IDEMPOTENT: IHttpRequestMethods[] = ['GET', 'HEAD', 'PUT', 'DELETE'];

export function isIdempotent(method: IHttpRequestMethods): boolean {
	return IDEMPOTENT.includes(method);
}

/** True when the fault is temporary and trying again cannot create anything twice. */
export function isRetryable(method: IHttpRequestMethods, fault: Fault): boolean {
	if ('statusCode' in fault) {
		if (fault.statusCode === 429 || fault.statusCode === 503) return true;
		return (fault.statusCode === 502 || fault.statusCode === 504) && isIdempotent(method);
	}
	const code = fault.connectionCode ?? '';
	if (NEVER_SENT.includes(code)) return true;
	return LOST_AFTER_SENDING.includes(code) && isIdempotent(method);
}

/**
 * True when a POST failed in a way that leaves open whether Copernica processed it: the user must
 * check before running the item again.
 */
export function outcomeUnknown(method: IHttpRequestMethods, fault: Fault): boolean {
	if (isIdempotent(method)) return false;
	if ('statusCode' in fault) return fault.statusCode === 502 || fault.statusCode === 504;
	return LOST_AFTER_SENDING.includes(fault.connectionCode ?? '');
}

/** Exponential backoff with full jitter: a random wait in 0..min(cap, base * 2^(retry-1)). */
export function backoffDelayMs(retry: number, random: () => number = Math.random): number {
	const ceiling = Math.min(MAX_BACKOFF_MS, BASE_DELAY_MS * 2 ** Math.max(0, retry - 1));
	return Math.floor(random() * ceiling);
}

/** Retry-After as milliseconds from `now`: delta seconds or an HTTP date; undefined if unreadable. */
export function parseRetryAfterMs(value: string | undefined, now: number = Date.now()): number | undefined {
	const text = value?.trim() ?? '';
	if (text === '') return undefined;
	if (/^\d+$/.test(text)) return Number(text) * 1000;
	const date = Date.parse(text);
	// Only the HTTP date form (has a weekday or month name), not any number Date.parse would take.
	if (Number.isNaN(date) || !/[A-Za-z]/.test(text)) return undefined;
	return Math.max(0, date - now);
}

/**
 * How long to wait before retry number `retry` (1 for the first), or undefined when the call must
 * not be retried at all because Copernica asked for a longer wait than MAX_RETRY_AFTER_MS.
 * Copernica's Retry-After, when present and readable, replaces the backoff: it knows best.
 */
export function retryDelayMs(
	retry: number,
	fault: Fault,
	random: () => number = Math.random,
	now: number = Date.now(),
): number | undefined {
	const asked = 'statusCode' in fault ? parseRetryAfterMs(fault.retryAfter, now) : undefined;
	if (asked === undefined) return backoffDelayMs(retry, random);
	return asked > MAX_RETRY_AFTER_MS ? undefined : asked;
}

/** The "Retries" option as a usable count: whole, 0..MAX_RETRIES, the default when unreadable. */
export function retryCount(value: unknown): number {
	const count = Number(value);
	if (value === undefined || value === null || value === '' || !Number.isFinite(count)) return DEFAULT_RETRIES;
	return Math.min(MAX_RETRIES, Math.max(0, Math.floor(count)));
}
