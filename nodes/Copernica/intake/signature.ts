/**
 * Copernica signs its webhooks with HTTP signatures (draft-cavage, rsa-sha256): a `Signature`
 * header names a key (a DNS name under copernica.com whose TXT record holds the public key), the
 * headers it covers, and the signature over them. Whether data request reports are signed is not
 * documented: a signature that is there must verify; requiring one is the user's choice. These
 * are the pure parts; the trigger looks the key up.
 */
import { createPublicKey, verify, type KeyObject } from 'crypto';

export interface SignatureParameters {
	keyId: string;
	algorithm: string;
	headers: string[];
	signature: string;
}

/** Copernica's own verifier refuses a Date further off than this. */
export const MAX_CLOCK_DIFFERENCE_MS = 60_000;
const REQUIRED_HEADERS = ['(request-target)', 'date', 'digest'];

/** Reads `keyId="...",algorithm="...",headers="...",signature="..."`; undefined when it is not one. */
export function parseSignatureHeader(header: string | undefined): SignatureParameters | undefined {
	if (!header) return undefined;
	const fields: Record<string, string> = {};
	for (const [, name, value] of header.matchAll(/([a-zA-Z]+)="([^"]*)"/g)) fields[name] = value;
	if (!fields.keyId || !fields.signature) return undefined;
	return {
		keyId: fields.keyId,
		algorithm: (fields.algorithm ?? '').toLowerCase(),
		headers: (fields.headers ?? 'date').toLowerCase().split(/\s+/).filter(Boolean),
		signature: fields.signature,
	};
}

/** The text the signature is made over: one `name: value` line per covered header. */
export function signingString(
	parameters: SignatureParameters,
	request: { method: string; target: string; headers: Record<string, string | string[] | undefined> },
): string | undefined {
	const lines: string[] = [];
	for (const name of parameters.headers) {
		if (name === '(request-target)') {
			lines.push(`(request-target): ${request.method.toLowerCase()} ${request.target}`);
			continue;
		}
		const value = request.headers[name];
		if (value === undefined) return undefined;
		lines.push(`${name}: ${Array.isArray(value) ? value.join(', ') : value}`);
	}
	return lines.join('\n');
}

/** The public key in a DKIM TXT record (`v=DKIM1; p=<base64 SubjectPublicKeyInfo>`). */
export function publicKeyFromDnsTxt(txt: string): KeyObject | undefined {
	const p = /(?:^|;)\s*p=([A-Za-z0-9+/=\s]+)/.exec(txt)?.[1]?.replace(/\s+/g, '');
	if (!p) return undefined;
	try {
		return createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' });
	} catch {
		return undefined;
	}
}

/** A pasted key: PEM, or the base64 of a DKIM record's p=. */
export function publicKeyFromText(text: string): KeyObject | undefined {
	const trimmed = text.trim();
	if (trimmed.includes('-----BEGIN')) {
		try {
			return createPublicKey(trimmed);
		} catch {
			return undefined;
		}
	}
	return publicKeyFromDnsTxt(trimmed.startsWith('v=') || trimmed.includes('p=') ? trimmed : `p=${trimmed}`);
}

/**
 * What is wrong with a signed request before its key is needed, or undefined: the key is Copernica's
 * (a name under copernica.com), the algorithm is rsa-sha256, the signature covers the request
 * target, the date and the digest, and the date is recent.
 */
export function signatureProblem(
	parameters: SignatureParameters,
	headers: Record<string, string | string[] | undefined>,
	now: number,
): string | undefined {
	if (!/(^|\.)copernica\.com$/i.test(parameters.keyId)) return `the signing key ${JSON.stringify(parameters.keyId)} is not Copernica's`;
	if (parameters.algorithm !== 'rsa-sha256') return `the signature algorithm ${JSON.stringify(parameters.algorithm)} is not rsa-sha256`;
	const missing = REQUIRED_HEADERS.filter((name) => !parameters.headers.includes(name));
	if (missing.length > 0) return `the signature does not cover ${missing.join(', ')}`;
	const date = Date.parse(String(headers.date ?? ''));
	if (!Number.isFinite(date)) return 'the Date header is missing or not a date';
	if (Math.abs(now - date) > MAX_CLOCK_DIFFERENCE_MS) return 'the Date header is more than 60 seconds off';
	return undefined;
}

/** Whether the signature over `text` is the key's. */
export function signatureMatches(text: string, signature: string, key: KeyObject): boolean {
	try {
		return verify('sha256', Buffer.from(text, 'utf8'), key, Buffer.from(signature, 'base64'));
	} catch {
		return false;
	}
}

/** The TXT strings of a DNS-over-HTTPS JSON answer (`{ Answer: [{ type: 16, data: "\"v=DKIM1; \" \"p=...\"" }] }`). */
export function txtRecordsOf(answer: unknown): string[] {
	const records = (answer as { Answer?: Array<{ type?: number; data?: unknown }> } | undefined)?.Answer;
	if (!Array.isArray(records)) return [];
	return records
		.filter((record) => (record.type === undefined || record.type === 16) && typeof record.data === 'string')
		.map((record) => {
			const data = record.data as string;
			const parts = [...data.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1].replace(/\\(.)/g, '$1'));
			return parts.length > 0 ? parts.join('') : data;
		});
}
