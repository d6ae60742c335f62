/**
 * Checks of user input, done before any request is sent. Each function returns the cleaned value
 * or throws an InvalidInputError whose message says what is wrong, in words a person can act on.
 * The node turns it into a NodeOperationError that names the item.
 */

export class InvalidInputError extends Error {}

const MAX_EMAIL_LENGTH = 254;
const MAX_LOCAL_PART_LENGTH = 64;
const MAX_URL_LENGTH = 2048;
const MAX_REQUEST_ID_LENGTH = 128;

// RFC 5322 "atext" plus any non-ASCII character (RFC 6531 allows UTF-8 local parts).
const LOCAL_PART_CHARACTER = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\uFFFF]$/u;
// A domain label: letters of any script, digits and inner hyphens (IDN domains as typed).
const DOMAIN_LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}\p{M}-]*[\p{L}\p{N}\p{M}])?$/u;
const CONTROL_OR_SPACE = /[\s\u0000-\u001f\u007f]/u;
// Characters nobody can see or type on purpose: C1 controls, format characters such as the
// right-to-left override (U+202E), zero-width space (U+200B) and soft hyphen, lone surrogates
// (encodeURIComponent throws on them), private use, line and paragraph separators. They make a
// value look like something it is not, and URL parsers drop some of them silently.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]/u;
const NOT_PRINTABLE = /[\p{C}\p{Z}]/gu;

/** The value quoted for a message: shortened, and with invisible characters written as escapes. */
function describe(value: unknown): string {
	const text = String(value);
	const shown = text.length > 60 ? text.slice(0, 57) : text;
	// Escaped so that a CR/LF or a direction override cannot forge lines or flip text in logs and the UI.
	const escaped = shown.replace(NOT_PRINTABLE, (character) => (character === ' ' ? ' ' : `[${codePoint(character)}]`));
	return text.length > 60 ? `"${escaped}..." (${text.length} characters)` : `"${escaped}"`;
}

function codePoint(character: string): string {
	return `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Why the text holds a character that must not be there, or undefined. */
function hiddenCharacterProblem(text: string): string | undefined {
	if (CONTROL_OR_SPACE.test(text)) return 'it contains white space or a control character';
	const invisible = INVISIBLE.exec(text)?.[0];
	return invisible === undefined ? undefined : `it contains an invisible or control character (${codePoint(invisible)})`;
}

function asTrimmedText(value: unknown, what: string): string {
	if (value === undefined || value === null) throw new InvalidInputError(`${what} is empty`);
	if (typeof value !== 'string' && typeof value !== 'number') {
		throw new InvalidInputError(`${what} must be text, not ${Array.isArray(value) ? 'a list' : typeof value}`);
	}
	const text = String(value).trim();
	if (text === '') throw new InvalidInputError(`${what} is empty`);
	return text;
}

/** Returns the email address as typed (trimmed); it goes into the URL path percent-encoded. */
export function validateEmail(value: unknown): string {
	const email = asTrimmedText(value, 'The email address');
	const bad = (reason: string) =>
		new InvalidInputError(`${describe(email)} is not a valid email address: ${reason}`);
	const hidden = hiddenCharacterProblem(email);
	if (hidden) throw bad(hidden);
	if (email.length > MAX_EMAIL_LENGTH) throw bad(`it is longer than ${MAX_EMAIL_LENGTH} characters`);
	const at = email.lastIndexOf('@');
	if (at === -1) throw bad('it has no "@"');
	const local = email.slice(0, at);
	const domain = email.slice(at + 1);
	if (local === '') throw bad('nothing comes before the "@"');
	if (domain === '') throw bad('nothing comes after the "@"');
	if (local.length > MAX_LOCAL_PART_LENGTH) {
		throw bad(`the part before the "@" is longer than ${MAX_LOCAL_PART_LENGTH} characters`);
	}
	if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
		throw bad('the part before the "@" has a misplaced dot');
	}
	for (const character of local.replace(/\./g, '')) {
		if (!LOCAL_PART_CHARACTER.test(character)) {
			throw bad(`the character ${JSON.stringify(character)} is not allowed before the "@"`);
		}
	}
	const labels = domain.split('.');
	if (labels.length < 2) throw bad(`the domain "${domain}" has no dot`);
	if (labels.some((label) => label.length > 63 || !DOMAIN_LABEL.test(label))) {
		throw bad(`the domain "${domain}" is not a valid domain name`);
	}
	// No top-level domain is all digits (RFC 3696 2): this is an IP address without brackets.
	if (/^[0-9]+$/.test(labels[labels.length - 1])) {
		throw bad(`the domain "${domain}" ends in a number: use a domain name, not an IP address`);
	}
	return email;
}

/** Profile and subprofile ids: positive whole numbers, returned as digits. */
export function validateNumericId(value: unknown, what: string): string {
	const text = asTrimmedText(value, what);
	if (!/^[0-9]+$/.test(text)) {
		throw new InvalidInputError(`${what} ${describe(text)} is not a whole number: use digits only, such as 1234`);
	}
	if (/^0+$/.test(text)) throw new InvalidInputError(`${what} must be greater than 0`);
	if (text.startsWith('0')) throw new InvalidInputError(`${what} ${describe(text)} has leading zeros`);
	if (text.length > 15 || Number(text) > Number.MAX_SAFE_INTEGER) {
		throw new InvalidInputError(`${what} ${describe(text)} is too large to be a Copernica id`);
	}
	return text;
}

/** Hosts on this machine: the only ones plain http:// may reach unless the credential allows it. */
export function isLoopbackHost(hostname: string): boolean {
	const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
	return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

export const UNENCRYPTED_HINT =
	'the personal data would travel unencrypted: use https://, or turn on "Allow Unencrypted HTTP" in the Copernica API credential';

/**
 * The report target: an email address or an http(s) web address. Empty means "no report".
 * Returns the trimmed value, or undefined when there is none. Plain http:// only reaches this
 * machine unless `allowHttp`.
 */
export function validateReport(value: unknown, allowHttp = false): string | undefined {
	if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
		return undefined;
	}
	const report = asTrimmedText(value, 'The report target');
	const bad = (reason: string) =>
		new InvalidInputError(
			`The report target ${describe(report)} is not usable: ${reason}. Use an email address or a web address that starts with https:// or http://`,
		);
	const hidden = hiddenCharacterProblem(report);
	if (hidden) throw bad(hidden);
	// A colon never appears in an email address we accept, so anything with one is meant as a URL.
	if (report.includes(':')) {
		const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(report)?.[1] ?? '';
		if (scheme && !/^https?$/i.test(scheme)) throw bad(`the "${scheme}:" scheme is not supported`);
		if (!/^https?:\/\//i.test(report)) throw bad('it is not a valid web address');
		if (report.length > MAX_URL_LENGTH) throw bad(`it is longer than ${MAX_URL_LENGTH} characters`);
		let url: URL;
		try {
			url = new URL(report);
		} catch {
			throw bad('it is not a valid web address');
		}
		if (!url.hostname) throw bad('it has no host name');
		if (url.protocol === 'http:' && !allowHttp && !isLoopbackHost(url.hostname)) throw bad(UNENCRYPTED_HINT);
		return report;
	}
	try {
		return validateEmail(report);
	} catch (error) {
		throw bad((error as Error).message.replace(/^.*? is not a valid email address: /, 'as an email address, '));
	}
}

/** A data request id as Copernica returned it; not assumed numeric, but safe in a URL path. */
export function validateRequestId(value: unknown): string {
	const id = asTrimmedText(value, 'The request ID');
	if (id.length > MAX_REQUEST_ID_LENGTH) {
		throw new InvalidInputError(`The request ID ${describe(id)} is longer than ${MAX_REQUEST_ID_LENGTH} characters`);
	}
	if (!/^[A-Za-z0-9._~-]+$/.test(id) || /^\.+$/.test(id)) {
		throw new InvalidInputError(
			`The request ID ${describe(id)} contains characters a Copernica id never has: use the "id" that the Create operation returned`,
		);
	}
	return id;
}
