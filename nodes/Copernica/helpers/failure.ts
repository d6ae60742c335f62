/**
 * Turns a failed Copernica answer into words: Copernica's own message where it gave one
 * ({"error":{"message":"..."}}), otherwise what kind of answer came back. Pure, so that every
 * form is unit tested; the transport redacts the result.
 */
export interface FailureText {
	message: string;
	description: string;
}

const STATUS_TEXT: Record<number, string> = {
	400: 'Bad Request',
	401: 'Unauthorized',
	403: 'Forbidden',
	404: 'Not Found',
	429: 'Too Many Requests',
	500: 'Internal Server Error',
	502: 'Bad Gateway',
	503: 'Service Unavailable',
	504: 'Gateway Timeout',
};

function copernicaMessage(body: string): string | undefined {
	try {
		const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
		if (typeof parsed.error === 'object' && typeof parsed.error?.message === 'string') return parsed.error.message;
		if (typeof parsed.error === 'string') return parsed.error;
		if (typeof parsed.message === 'string') return parsed.message;
	} catch {
		// not JSON: described below
	}
	return undefined;
}

// Retry-After is delta seconds or an HTTP date.
const retryAfterText = (value: string) => (/^\s*\d+\s*$/.test(value) ? `retry after ${value.trim()} s` : `retry after ${value.trim()}`);

export function describeHttpFailure(statusCode: number, body: string, retryAfter?: string): FailureText {
	const status = `HTTP ${statusCode}${STATUS_TEXT[statusCode] ? ` ${STATUS_TEXT[statusCode]}` : ''}`;
	const own = copernicaMessage(body);
	if (own) return { message: own, description: `Copernica answered ${status}: ${own}` };
	let description = `Copernica answered ${status}`;
	if (/^\s*</.test(body)) {
		description += ' with an HTML page instead of the API\'s JSON: Copernica, or a proxy in front of it, may be overloaded or down.';
	} else if (body.trim() !== '') {
		description += `: ${body.trim().slice(0, 300)}`;
	}
	if (statusCode === 429) description += ` Copernica asks to slow down${retryAfter ? ` (${retryAfterText(retryAfter)})` : ''}.`;
	return { message: `Copernica answered ${status}`, description };
}

const CONNECTION_TEXT: Record<string, string> = {
	ECONNREFUSED: 'the connection was refused',
	ECONNRESET: 'the connection was reset before an answer came',
	EPIPE: 'the connection was closed while sending',
	ETIMEDOUT: 'the connection timed out',
	ECONNABORTED: 'no answer came within the timeout',
	ENOTFOUND: 'the host name was not found',
	EAI_AGAIN: 'the host name could not be looked up',
	ERR_CANCELED: 'the request was cancelled',
};

/** A request that got no HTTP answer at all. Only the host is named: the URL carries the token. */
export function describeConnectionFailure(code: string | undefined, host: string): FailureText {
	const what = (code && CONNECTION_TEXT[code]) ?? 'no answer came';
	return {
		message: `Could not reach Copernica at ${host}: ${what}`,
		description: `Check the Base URL in the Copernica API credential and that ${host} is reachable from n8n.${code ? ` (${code})` : ''}`,
	};
}
