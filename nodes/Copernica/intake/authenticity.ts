/**
 * Is a report POST really from Copernica? The baseline is a secret in the report URL (Copernica
 * can only be given a URL); where Copernica's signature headers are present, the Digest must
 * match the body. Both comparisons take the same time whatever the input.
 */
import { createHash, timingSafeEqual } from 'crypto';

/** Constant-time comparison: hashing first makes unequal lengths take the same time too. */
export function secretMatches(given: unknown, expected: string): boolean {
	if (typeof given !== 'string' || expected === '') return false;
	const a = createHash('sha256').update(given, 'utf8').digest();
	const b = createHash('sha256').update(expected, 'utf8').digest();
	return timingSafeEqual(a, b);
}

/**
 * The SHA-256 digest a `Digest: SHA-256=<base64>` header (RFC 3230; several algorithms may be
 * listed) declares, or undefined when it names none.
 */
export function declaredSha256(digestHeader: string | undefined): Buffer | undefined {
	const sha256 = (digestHeader ?? '')
		.split(',')
		.map((part) => part.trim())
		.find((part) => /^sha-256=/i.test(part));
	return sha256 === undefined ? undefined : Buffer.from(sha256.slice('sha-256='.length), 'base64');
}

/** Whether a declared digest is the body's SHA-256 (both as bytes), in constant time. */
export function sha256Equal(declared: Buffer, actual: Buffer): boolean {
	return declared.length === actual.length && timingSafeEqual(declared, actual);
}

/**
 * Checks a Digest header against the body. Returns undefined when the header names no SHA-256
 * digest (nothing to check), true or false otherwise.
 */
export function digestMatches(digestHeader: string | undefined, body: Uint8Array): boolean | undefined {
	const declared = declaredSha256(digestHeader);
	if (declared === undefined) return undefined;
	return sha256Equal(declared, createHash('sha256').update(body).digest());
}

export const MIN_SECRET_LENGTH = 24;
// Words of the values that examples, docs and tutorials tell people to replace: anyone can guess those.
const PLACEHOLDER_WORDS = ['change-me', 'changeme', 'change_me', 'replace-me', 'replaceme', 'your-secret', 'yoursecret', 'random-value'];

/**
 * Why a trigger secret cannot protect the URL, or undefined when it can: it must be long and not
 * a placeholder. Says what to do, for the editor's activation error.
 */
export function secretProblem(secret: unknown): string | undefined {
	const text = typeof secret === 'string' ? secret.trim() : '';
	const advice = `Set Secret to a random value of at least ${MIN_SECRET_LENGTH} characters (for example from a password manager), and put the same value in the report URL as ?secret=...`;
	if (text === '') return `The trigger has no secret: anyone who knows its URL could start this workflow. ${advice}`;
	const lower = text.toLowerCase();
	if (PLACEHOLDER_WORDS.some((word) => lower.includes(word)) || /^(.)\1*$/.test(text)) {
		return `The trigger's secret is a placeholder that others can guess. ${advice}`;
	}
	if (text.length < MIN_SECRET_LENGTH) {
		return `The trigger's secret is ${text.length} characters long, too short to be safe. ${advice}`;
	}
	return undefined;
}
