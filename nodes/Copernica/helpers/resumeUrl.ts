/**
 * The report URL of Create and Wait: n8n's resume URL of the waiting execution plus a check value
 * of this package. n8n 1.x resume URLs are `<base>/webhook-waiting/<execution id>`: the id is a
 * counter, so anyone could guess the URL of a waiting execution. n8n 2.x adds a random token
 * (`?signature=...`) that n8n itself checks. The check value makes both safe to hand to Copernica:
 * an HMAC, keyed with the Copernica access token, of what the execution waits for. Nobody without
 * the token can make one, nothing needs storing while the execution waits (it survives restarts),
 * and the token itself cannot be read back from it.
 */
import { createHmac } from 'crypto';

export const RESUME_CHECK_PARAMETER = 'copernica_check';

/** The check value for one waiting execution and subject (base64url, 43 characters). */
export function resumeCheck(key: string, parts: Array<string | number>): string {
	return createHmac('sha256', key)
		.update(['copernica-data-request-resume', ...parts.map(String)].join('\n'), 'utf8')
		.digest('base64url');
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
