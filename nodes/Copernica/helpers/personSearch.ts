/**
 * Pure pieces of Find Person: which values to search for, the `fields[]` condition and its
 * encoding, reading a page of a Copernica list and planning the next, what counts as the same
 * address, normalising ids, flags and records, and the order of the results.
 */
import type { IDataObject } from 'n8n-workflow';

/** Copernica answers at most 1000 records per call. */
export const PAGE_LIMIT = 1000;
/** Ten million records in one list: beyond that, the paging is broken, not the list long. */
export const MAX_PAGES = 10_000;

// ------------------------------------------------------------------ addresses

interface Address {
	local: string;
	domain: string;
}

/** The part before the last "@" and the part after it, or undefined without an "@". */
export function splitAddress(email: string): Address | undefined {
	const at = email.lastIndexOf('@');
	if (at === -1) return undefined;
	return { local: email.slice(0, at), domain: email.slice(at + 1) };
}

/**
 * The values to search for: the address as given and, when different, with its domain in lower
 * case. Whether Copernica's `==` compares without regard to case is not documented: where it
 * does, the first finds every spelling; where it does not, the second finds the address as most
 * systems store it.
 */
export function searchValues(email: string): string[] {
	const parts = splitAddress(email);
	if (parts === undefined) return [email];
	const lowered = `${parts.local}@${parts.domain.toLowerCase()}`;
	return lowered === email ? [email] : [email, lowered];
}

/** The same address: the part before the "@" exactly, the domain without regard to case. */
export function sameAddress(stored: unknown, wanted: string): boolean {
	if (typeof stored !== 'string') return false;
	const a = splitAddress(stored);
	const b = splitAddress(wanted);
	if (a === undefined || b === undefined) return false;
	return a.local === b.local && a.domain.toLowerCase() === b.domain.toLowerCase();
}

/** Equal but for case: what a search by `==` may answer when Copernica compares case-insensitively. */
export function sameIgnoringCase(stored: string, wanted: string): boolean {
	return stored.toLowerCase() === wanted.toLowerCase();
}

// ------------------------------------------------------------------ the query

/** "field==value": equality, so `%` and `_` are no wildcards (they are only with `=~`). */
export function equalsCondition(field: string, value: string): string {
	return `${field}==${value}`;
}

/**
 * The query string of one page: the condition percent-encoded as a whole (so that `+` stays a
 * plus, `%`, `&` and `#` stay themselves, `'` and non-ASCII arrive as typed), then the paging.
 * `total=true` (Copernica's default, said aloud): with the total a page that is shorter than
 * asked for cannot end the list early (a server that gives fewer per page than asked), and a
 * full last page needs no extra call.
 */
export function pageQuery(start: number, limit = PAGE_LIMIT, condition?: string): string {
	const paging = `start=${start}&limit=${limit}&total=true`;
	return condition === undefined ? paging : `fields[]=${encodeQueryValue(condition)}&${paging}`;
}

/** encodeURIComponent, and also ! ' ( ) *: what is sent does not depend on how a URL parser treats them. */
export function encodeQueryValue(text: string): string {
	return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

// ------------------------------------------------------------------ paging

export class PagingError extends Error {}

export interface Page {
	items: unknown[];
	/** Where the next page starts, or undefined when this was the last. */
	next?: number;
	/** The list's length, when the answer says. */
	total?: number;
}

const finite = (value: unknown): number | undefined => {
	if (value === null || value === undefined || value === '') return undefined;
	const n = Number(value);
	return Number.isFinite(n) ? n : undefined;
};

/**
 * One answer of a list call and what comes after it. Copernica answers
 * `{ start, limit, count, total?, data: [...] }`. With a total, the list goes on until it is
 * reached (or a page is empty); without one, while a page is full (`count` not below the `limit`
 * the answer names). A page that starts elsewhere than asked is an error, not a loop; a bare
 * array is a list without paging.
 */
export function readPage(body: unknown, start: number, limit: number): Page {
	if (Array.isArray(body)) return { items: body };
	if (body === null || typeof body !== 'object' || !Array.isArray((body as IDataObject).data)) {
		throw new PagingError('the answer is not a list (no "data")');
	}
	const answer = body as IDataObject;
	const items = answer.data as unknown[];
	const answeredStart = finite(answer.start);
	if (answeredStart !== undefined && answeredStart !== start) {
		throw new PagingError(`asked for the records from ${start} on, the answer starts at ${answeredStart}`);
	}
	const pageLimit = finite(answer.limit) ?? limit;
	const count = finite(answer.count) ?? items.length;
	const total = finite(answer.total);
	let last: boolean;
	if (items.length === 0) last = true;
	else if (total !== undefined) last = start + items.length >= total;
	else last = Math.min(count, items.length) < pageLimit;
	return { items, ...(last ? {} : { next: start + items.length }), ...(total !== undefined ? { total } : {}) };
}

// ------------------------------------------------------------------ subprofiles of the profiles found

/**
 * From this many profiles found in one database on, their subprofiles may be cheaper to read
 * from each collection as a whole than one call per profile and collection (a role address such
 * as info@ held by thousands of profiles). Below it, asking per profile is never more than a few
 * calls, and a look at the collection's size would cost one more.
 */
export const SCAN_FROM_PROFILES = 10;

/**
 * Whether reading a collection of `total` subprofiles (the first page already read) costs no
 * more calls than asking for the subprofiles of `profiles` profiles one by one.
 */
export function collectionScanPays(total: number | undefined, profiles: number, limit = PAGE_LIMIT): boolean {
	if (total === undefined || !Number.isFinite(total) || total < 0) return false;
	return Math.ceil(total / limit) - 1 < profiles;
}

// ------------------------------------------------------------------ records

/** An id as text: Copernica sends "3144" or 3144. */
export function idOf(value: unknown): string | undefined {
	if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
	if (typeof value === 'string' && /^[1-9][0-9]*$/.test(value.trim())) return value.trim();
	return undefined;
}

/** Copernica's yes/no: true, 1, "1", "true", "yes" (and, for `removed`, a date) are yes. */
export function flagOf(value: unknown): boolean {
	if (value === true) return true;
	if (typeof value === 'number') return value !== 0;
	if (typeof value !== 'string') return false;
	const text = value.trim().toLowerCase();
	return text !== '' && !['0', 'false', 'no', 'null', '0000-00-00 00:00:00'].includes(text);
}

/** When a `removed` value is a date rather than a yes, that date. */
export function removedAtOf(value: unknown): string | undefined {
	return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value.trim()) && flagOf(value) ? value.trim() : undefined;
}

/** A record's fields as an object; a removed record has none (Copernica may send `[]`). */
export function fieldsOf(value: unknown): IDataObject {
	return value && typeof value === 'object' && !Array.isArray(value) ? (value as IDataObject) : {};
}

/** The names of the fields of type email, in the order of their ids. */
export function emailFieldNames(fields: unknown[]): string[] {
	return fields
		.filter((f): f is IDataObject => !!f && typeof f === 'object')
		.filter((f) => typeof f.name === 'string' && f.name !== '' && String(f.type ?? '').toLowerCase() === 'email')
		.sort((a, b) => compareIds(idOf(a.ID), idOf(b.ID)))
		.map((f) => f.name as string);
}

// ------------------------------------------------------------------ what an answer says

/**
 * The records of one search (`field==value`, all pages) that are the address. A record whose
 * field holds the address (exactly before the "@") is one. A record with no value to check, as
 * removed records (their fields are emptied), is taken on Copernica's word, but only when every
 * value in the answer is the searched value but for case: an answer with other values shows a
 * server that did not apply the condition as equality, and its word is then worth nothing.
 */
export function matchingRecords(records: IDataObject[], field: string, searched: string, wanted: string): IDataObject[] {
	const valueOf = (record: IDataObject) => fieldsOf(record.fields)[field];
	const trustworthy = records.every((record) => {
		const value = valueOf(record);
		return value === undefined || value === null || sameIgnoringCase(String(value), searched);
	});
	return records.filter((record) => {
		const value = valueOf(record);
		if (value === undefined || value === null) return trustworthy;
		return sameAddress(String(value), wanted);
	});
}

/** The first email field (in field order) that holds the address, or undefined. */
export function matchedFieldOf(fields: IDataObject, emailFields: string[], wanted: string): string | undefined {
	return emailFields.find((name) => sameAddress(fields[name], wanted));
}

// ------------------------------------------------------------------ order

/** Ids in numeric order (by length, then digits: no precision lost); a missing id first. */
export function compareIds(a: string | undefined, b: string | undefined): number {
	if (a === b) return 0;
	if (a === undefined) return -1;
	if (b === undefined) return 1;
	const numeric = /^[0-9]+$/;
	if (numeric.test(a) && numeric.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
	return a < b ? -1 : 1;
}

export interface SortKey {
	databaseId: string;
	/** Undefined for a profile: a database's profiles come before its subprofiles. */
	collectionId?: string;
	profileId: string;
	subprofileId?: string;
}

/** The stable order of Find Person's output: database, collection, profile, subprofile. */
export function compareMatches(a: SortKey, b: SortKey): number {
	return (
		compareIds(a.databaseId, b.databaseId) ||
		compareIds(a.collectionId, b.collectionId) ||
		compareIds(a.profileId, b.profileId) ||
		compareIds(a.subprofileId, b.subprofileId)
	);
}

// ------------------------------------------------------------------ calls at once

/**
 * At most `limit` tasks running at once, the rest queued in order. Find Person's calls of all
 * items of a node run share one, so that "Concurrency" bounds the calls in flight, not the items.
 */
export class Limiter {
	private running = 0;
	private readonly queue: Array<() => void> = [];

	/** A fixed limit, or one that changes (the run's adaptive limit: its `current`). */
	constructor(private readonly limit: number | { readonly current: number }) {}

	private get allowed(): number {
		return typeof this.limit === 'number' ? this.limit : this.limit.current;
	}

	async run<T>(task: () => Promise<T>): Promise<T> {
		if (this.running < this.allowed) this.running++;
		// Full: wait until a finishing task hands its place over (so no newcomer can take it meanwhile).
		else await new Promise<void>((resolve) => this.queue.push(resolve));
		try {
			return await task();
		} finally {
			// A limit that went down meanwhile takes the place back instead of handing it over.
			const next = this.running <= this.allowed ? this.queue.shift() : undefined;
			if (next) next();
			else this.running--;
			// A limit that went up lets more of the queue start.
			while (this.queue.length > 0 && this.running < this.allowed) {
				this.running++;
				this.queue.shift()?.();
			}
		}
	}
}
