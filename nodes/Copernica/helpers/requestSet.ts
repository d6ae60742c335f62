/**
 * A set of data requests that together answer one person (Subject Type "Person"): the email
 * request and one per profile and subprofile. The set's id describes it completely, so that a
 * later Get needs no stored state:
 *
 *   person:<key>:<request id>,<request id>,...:<email>
 *
 * `key` is random, made when the set is created, and goes into every part's report URL
 * (`set=<key>&part=<n>&parts=<total>`) before the parts' ids are known; request ids never hold
 * ":" or "," (see validateRequestId); the email comes last, so it may hold anything.
 */
import { randomBytes } from 'crypto';

import { withQueryParameter } from './resumeUrl';
import { InvalidInputError, validateRequestId } from './validation';

export const SET_PREFIX = 'person:';
/** The report URL's parameters that say which set and which part a delivery is. */
export const SET_PARAMETER = 'set';
export const PART_PARAMETER = 'part';
export const PARTS_PARAMETER = 'parts';

export interface RequestSet {
	/** Empty for a plain list of request ids. */
	key: string;
	ids: string[];
	/** The person's address, when the set was made by Create (Person). */
	email?: string;
}

// Hex: safe in a URL and in a file name as it is (a base64url key can end in "-", which file names drop).
export function newSetKey(): string {
	return randomBytes(8).toString('hex');
}

export function setIdOf({ key, ids, email }: RequestSet): string {
	return `${SET_PREFIX}${key}:${ids.join(',')}:${email ?? ''}`;
}

/**
 * What Get's Request ID names: one request (undefined here), a set id, or a list of request ids
 * (an array, or text separated by commas, spaces or new lines). Throws on a malformed set.
 */
export function requestSetOf(value: unknown): RequestSet | undefined {
	if (Array.isArray(value)) return { key: '', ids: idsOf(value) };
	if (typeof value !== 'string') return undefined;
	const text = value.trim();
	if (text.startsWith(SET_PREFIX)) {
		const rest = text.slice(SET_PREFIX.length);
		const first = rest.indexOf(':');
		const second = first === -1 ? -1 : rest.indexOf(':', first + 1);
		if (second === -1) {
			throw new InvalidInputError(`The set ID ${JSON.stringify(text.slice(0, 80))} is incomplete: use the "id" that Create (Person) returned`);
		}
		const ids = rest.slice(first + 1, second);
		const email = rest.slice(second + 1);
		return { key: rest.slice(0, first), ids: ids === '' ? [] : idsOf(ids.split(',')), ...(email ? { email } : {}) };
	}
	if (/[,\s]/.test(text)) return { key: '', ids: idsOf(text.split(/[,\s]+/)) };
	return undefined;
}

function idsOf(list: unknown[]): string[] {
	const ids = list.filter((entry) => !(typeof entry === 'string' && entry.trim() === '')).map((entry) => validateRequestId(entry));
	if (ids.length === 0) throw new InvalidInputError('The list of request IDs is empty');
	return [...new Set(ids)];
}

/** The report URL of part `part` (counted from 1) of `parts`: the given report plus where it belongs. */
export function partReportUrl(report: string, key: string, part: number, parts: number): string {
	let url = withQueryParameter(report, SET_PARAMETER, key);
	url = withQueryParameter(url, PART_PARAMETER, String(part));
	return withQueryParameter(url, PARTS_PARAMETER, String(parts));
}

export type PartStatus = 'available' | 'pending' | 'not available';

/** A set is available when every part is, not available when any part is, and pending otherwise. */
export function setStatusOf(parts: Array<{ status: PartStatus }>): PartStatus {
	if (parts.some((part) => part.status === 'not available')) return 'not available';
	return parts.every((part) => part.status === 'available') ? 'available' : 'pending';
}

/**
 * Whether Copernica's 404 to an email data request means "this account has no such call": an
 * error about the address itself names it (or says it is invalid); a missing method does not.
 */
export function emailCallAbsent(statusCode: number, errorText: string, email: string): boolean {
	if (statusCode !== 404) return false;
	const text = errorText.toLowerCase();
	return !text.includes(email.toLowerCase()) && !text.includes(encodeURIComponent(email).toLowerCase()) && !/email address/.test(text);
}
