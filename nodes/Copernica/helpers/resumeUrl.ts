/**
 * The report URL of Create and Wait: n8n's resume URL of the waiting execution plus a check value
 * of this package. n8n 1.x resume URLs are `<base>/webhook-waiting/<execution id>`: the id is a
 * counter, so anyone could guess the URL of a waiting execution. n8n 2.x adds a random token
 * (`?signature=...`) that n8n itself checks. The check value makes both safe to hand to Copernica:
 * a random value made for this one wait. Only its SHA-256 is kept, with the waiting item, so the
 * value itself is in no stored execution, and nothing else (the access token, the credential,
 * a restart) can invalidate it while the execution waits.
 */
import { createHash, randomBytes, timingSafeEqual } from 'crypto';

export const RESUME_CHECK_PARAMETER = 'copernica_check';

/** A new check value (base64url, 43 characters) and the hash to keep of it. */
export function newResumeCheck(): { value: string; sha256: string } {
	const value = randomBytes(32).toString('base64url');
	return { value, sha256: sha256Of(value) };
}

const sha256Of = (value: string) => createHash('sha256').update(value, 'utf8').digest('base64url');

/** Whether a posted check value is the one whose hash was kept; the same time whatever is posted. */
export function resumeCheckMatches(given: unknown, keptSha256: unknown): boolean {
	if (typeof given !== 'string' || typeof keptSha256 !== 'string' || keptSha256 === '') return false;
	const a = Buffer.from(sha256Of(given));
	const b = Buffer.from(keptSha256);
	return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Adds one query parameter to a URL and leaves everything already there byte for byte as it was
 * (n8n's own `signature` value, for one), which re-serialising through URLSearchParams would not.
 */
export function withQueryParameter(url: string, name: string, value: string): string {
	const hash = url.indexOf('#');
	const base = hash === -1 ? url : url.slice(0, hash);
	const fragment = hash === -1 ? '' : url.slice(hash);
	const separator = !base.includes('?') ? '?' : /[?&]$/.test(base) ? '' : '&';
	return `${base}${separator}${encodeURIComponent(name)}=${encodeURIComponent(value)}${fragment}`;
}
