/**
 * API v4's JSON web token: reading the exchange's answer and knowing when the token runs out.
 * Pure functions; the exchange itself is the credential's preAuthentication.
 */

/** Three base64url parts separated by dots: the shape of a JWT (no signature check: Copernica holds the key). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Renew this long before `exp` at most, so that a call is not sent with a token about to run out. */
export const RENEW_BEFORE_EXP_MS = 5 * 60 * 1000;

export function isJwt(text: unknown): text is string {
	return typeof text === 'string' && JWT_SHAPE.test(text);
}

/**
 * The JWT in the exchange's answer, whose format Copernica does not document: the body as the
 * token itself (what observed clients read), possibly quoted, or JSON carrying it in a member
 * (`access_token`, `token`, `jwt`, also one level down in `data`). Undefined when there is none.
 */
export function jwtFromExchangeAnswer(body: unknown): string | undefined {
	if (body === null || body === undefined) return undefined;
	if (typeof body === 'object') {
		const record = body as Record<string, unknown>;
		for (const key of ['access_token', 'token', 'jwt', 'accessToken']) {
			if (isJwt(record[key])) return record[key] as string;
		}
		return record.data !== undefined && record.data !== body ? jwtFromExchangeAnswer(record.data) : undefined;
	}
	const text = String(body).trim();
	if (isJwt(text)) return text;
	if (/^[{["]/.test(text)) {
		try {
			return jwtFromExchangeAnswer(JSON.parse(text));
		} catch {
			return undefined;
		}
	}
	return undefined;
}

/** The token's claims, or undefined when it is not a readable JWT. */
function claimsOf(jwt: string): Record<string, unknown> | undefined {
	if (!isJwt(jwt)) return undefined;
	try {
		const claims: unknown = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
		return claims !== null && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined;
	} catch {
		return undefined;
	}
}

/** `exp` (and `iat`, when given) in milliseconds since the epoch. */
export function jwtTimes(jwt: string): { expiresAt?: number; issuedAt?: number } {
	const claims = claimsOf(jwt);
	const ms = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value * 1000 : undefined);
	return { expiresAt: ms(claims?.exp), issuedAt: ms(claims?.iat) };
}

/**
 * Whether the stored token must be exchanged again before the next call: none, not a JWT, or
 * its `exp` within the renewal margin (five minutes, or a tenth of its lifetime when that is
 * shorter, so that a short-lived token is not renewed on every call). A JWT without `exp` is used
 * until Copernica answers 401.
 */
export function jwtNeedsRenewal(jwt: unknown, nowMs: number): boolean {
	if (!isJwt(jwt)) return true;
	const { expiresAt, issuedAt } = jwtTimes(jwt);
	if (expiresAt === undefined) return false;
	const lifetime = issuedAt !== undefined && issuedAt < expiresAt ? expiresAt - issuedAt : Infinity;
	return nowMs >= expiresAt - Math.min(RENEW_BEFORE_EXP_MS, lifetime / 10);
}
