/**
 * Copernica answers "is the file ready?" in three documented forms: GET /datarequest/{id}/status,
 * GET /datarequest/{id}/data (404 while not ready) and, on older servers, the bare
 * GET /datarequest/{id} whose `data` member says "Data not available (yet)" (one product adds a
 * full stop, so only the prefix is matched). These pure functions read each form.
 */
export type DataRequestStatus = 'available' | 'pending' | 'not available';

export interface StatusAnswer {
	status: DataRequestStatus;
	/** Bytes of the file assembled so far, when the server says. */
	availableBytes?: number;
}

const STATUSES: DataRequestStatus[] = ['available', 'pending', 'not available'];
const NOT_READY_PREFIX = 'data not available';

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text);
	} catch {
		return undefined;
	}
}

/** Reads a /status answer; undefined when the text is not one. */
export function parseStatusAnswer(text: string): StatusAnswer | undefined {
	const value = parseJson(text) as Record<string, unknown> | undefined;
	if (!value || typeof value !== 'object') return undefined;
	const status = typeof value.status === 'string' ? value.status.trim().toLowerCase() : undefined;
	const known = STATUSES.find((candidate) => candidate === status);
	if (!known) return undefined;
	const bytes = Number(value.available);
	return Number.isFinite(bytes) && typeof value.available !== 'boolean' && value.available !== null
		? { status: known, availableBytes: bytes }
		: { status: known };
}

/** True when a /data or bare answer says the file is not ready yet, in any of its forms. */
export function saysNotReadyYet(text: string): boolean {
	const value = parseJson(text) as Record<string, unknown> | undefined;
	const candidates: unknown[] = [text];
	if (value && typeof value === 'object') {
		const error = value.error as Record<string, unknown> | string | undefined;
		candidates.push(value.data, value.message, typeof error === 'object' ? error?.message : error);
	}
	return candidates.some(
		(candidate) => typeof candidate === 'string' && candidate.trim().toLowerCase().startsWith(NOT_READY_PREFIX),
	);
}

// Words with which an error names the request itself as unknown or expired. "Unknown method" or a
// bare "Not found" name the endpoint, not the request, and are no evidence.
const NOT_AVAILABLE_WORDS = /\b(expired|does not exist|doesn't exist|no such|no entity|unknown (data ?request|id))\b/i;

/**
 * True when an error answer says that the request is unknown or its file has expired: the only
 * evidence, besides a /status "not available", that there is no file to wait for.
 */
export function saysNotAvailable(text: string): boolean {
	const value = parseJson(text) as Record<string, unknown> | undefined;
	const candidates: unknown[] = [];
	if (value && typeof value === 'object') {
		const error = value.error as Record<string, unknown> | string | undefined;
		candidates.push(value.message, typeof error === 'object' ? error?.message : error);
	} else {
		candidates.push(text);
	}
	return candidates.some((candidate) => typeof candidate === 'string' && NOT_AVAILABLE_WORDS.test(candidate));
}
