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

function describe(value: unknown): string {
	const text = String(value);
	return text.length > 60 ? `"${text.slice(0, 57)}..." (${text.length} characters)` : `"${text}"`;
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
	if (CONTROL_OR_SPACE.test(email)) throw bad('it contains white space or a control character');
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

/**
 * The report target: an email address or an http(s) web address. Empty means "no report".
 * Returns the trimmed value, or undefined when there is none.
 */
export function validateReport(value: unknown): string | undefined {
	if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
		return undefined;
	}
	const report = asTrimmedText(value, 'The report target');
	const bad = (reason: string) =>
		new InvalidInputError(
			`The report target ${describe(report)} is not usable: ${reason}. Use an email address or a web address that starts with https:// or http://`,
		);
	if (CONTROL_OR_SPACE.test(report)) throw bad('it contains white space or a control character');
	// A colon never appears in an email address we accept, so anything with one is meant as a URL.
	if (report.includes(':')) {
		const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(report)?.[1] ?? '';
		if (!/^https?$/i.test(scheme) || !/^[a-z]+:\/\//i.test(report)) {
			throw bad(scheme ? `the "${scheme}:" scheme is not supported` : 'it is not a valid web address');
		}
		if (report.length > MAX_URL_LENGTH) throw bad(`it is longer than ${MAX_URL_LENGTH} characters`);
		let url: URL;
		try {
			url = new URL(report);
		} catch {
			throw bad('it is not a valid web address');
		}
		if (!url.hostname) throw bad('it has no host name');
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
