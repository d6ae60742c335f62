/**
 * Copernica documents only that creating a data request returns "a unique identifier". Its POST
 * calls usually answer 201 with an empty body and the id in X-Created; other calls use
 * X-Location or Location. Read every known place, in that order, and never assume a number.
 */

type Headers = Record<string, unknown>;

function header(headers: Headers, name: string): string | undefined {
	for (const [key, value] of Object.entries(headers ?? {})) {
		if (key.toLowerCase() !== name) continue;
		const first = Array.isArray(value) ? value[0] : value;
		if (first === undefined || first === null) return undefined;
		const text = String(first).trim();
		return text === '' ? undefined : text;
	}
	return undefined;
}

function lastPathSegment(location: string): string | undefined {
	const path = location.split(/[?#]/)[0];
	const segments = path.split('/').filter((segment) => segment !== '');
	const last = segments[segments.length - 1];
	if (last === undefined || /^https?:$/i.test(last)) return undefined;
	try {
		return decodeURIComponent(last);
	} catch {
		return last;
	}
}

function idFromValue(value: unknown): string | undefined {
	if (typeof value === 'number' && Number.isFinite(value)) return String(value);
	if (typeof value === 'string' && value.trim() !== '') return value.trim();
	return undefined;
}

function idFromBody(body: unknown): string | undefined {
	if (body === undefined || body === null) return undefined;
	if (typeof body === 'object' && !Array.isArray(body)) {
		const record = body as Record<string, unknown>;
		return idFromValue(record.id) ?? idFromValue(record.ID) ?? idFromValue(record.datarequest);
	}
	const direct = idFromValue(body);
	if (direct === undefined || typeof body !== 'string') return direct;
	try {
		return idFromBody(JSON.parse(direct));
	} catch {
		// A plain-text body is the id itself, if it looks like one (no spaces, no markup).
		return /^[A-Za-z0-9._~-]{1,128}$/.test(direct) ? direct : undefined;
	}
}

/** The id of a newly created data request, or undefined when the response carries none. */
export function extractRequestId(response: { headers: Headers; body: unknown }): string | undefined {
	const created = header(response.headers, 'x-created');
	if (created !== undefined) return created;
	for (const name of ['x-location', 'location']) {
		const location = header(response.headers, name);
		const id = location === undefined ? undefined : lastPathSegment(location);
		if (id !== undefined) return id;
	}
	return idFromBody(response.body);
}
