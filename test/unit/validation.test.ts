import {
	InvalidInputError,
	validateEmail,
	validateNumericId,
	validateReport,
	validateRequestId,
} from '../../nodes/CopernicaDataRequest/helpers/validation';

describe('validateEmail', () => {
	it.each([
		"o'brien+test@example.com",
		'100%real@example.com',
		'a/b@example.com',
		'hash#tag@example.com',
		'what?@example.com',
		'UPPER.Case@Example.COM',
		'jürgen.müller@example.de',
		'用户@例子.广告',
		'info@xn--bcher-kva.example',
		"!#$&'*+-/=?^_`{|}~@example.com",
	])('accepts %s exactly as typed', (email) => {
		expect(validateEmail(email)).toBe(email);
	});

	it('trims surrounding white space only', () => {
		expect(validateEmail('  someone@example.com\t')).toBe('someone@example.com');
	});

	it.each([
		['', 'is empty'],
		['   ', 'is empty'],
		['plainaddress', 'has no "@"'],
		['@example.com', 'nothing comes before the "@"'],
		['someone@', 'nothing comes after the "@"'],
		['some one@example.com', 'white space'],
		['someone@example.com\r\nBcc: x@evil.test', 'white space or a control character'],
		['.lead@example.com', 'misplaced dot'],
		['trail.@example.com', 'misplaced dot'],
		['two..dots@example.com', 'misplaced dot'],
		['someone@localhost', 'has no dot'],
		['someone@-example.com', 'not a valid domain name'],
		['someone@example..com', 'not a valid domain name'],
		['a"b@example.com', 'is not allowed before the "@"'],
		['a<b>@example.com', 'is not allowed before the "@"'],
		[`${'x'.repeat(65)}@example.com`, 'longer than 64'],
		[`x@${'a'.repeat(250)}.com`, 'longer than 254'],
	])('rejects %j: %s', (email, reason) => {
		expect(() => validateEmail(email)).toThrow(InvalidInputError);
		expect(() => validateEmail(email)).toThrow(reason);
	});

	it('rejects values that are not text', () => {
		expect(() => validateEmail({ email: 'a@b.c' })).toThrow('must be text');
		expect(() => validateEmail(undefined)).toThrow('is empty');
	});
});

describe('validateNumericId', () => {
	it('accepts positive whole numbers as digits', () => {
		expect(validateNumericId('1234', 'The profile ID')).toBe('1234');
		expect(validateNumericId(42, 'The profile ID')).toBe('42');
		expect(validateNumericId(' 7 ', 'The profile ID')).toBe('7');
	});
	it.each([
		['abc', 'is not a whole number'],
		['-5', 'is not a whole number'],
		['1.5', 'is not a whole number'],
		['1e3', 'is not a whole number'],
		['0', 'greater than 0'],
		['007', 'leading zeros'],
		['12345678901234567890', 'too large'],
		['', 'is empty'],
	])('rejects %j: %s', (id, reason) => {
		expect(() => validateNumericId(id, 'The profile ID')).toThrow(reason);
	});
});

describe('validateReport', () => {
	it('treats empty as no report', () => {
		expect(validateReport('')).toBeUndefined();
		expect(validateReport('   ')).toBeUndefined();
		expect(validateReport(undefined)).toBeUndefined();
	});
	it.each([
		'privacy@example.com',
		'https://n8n.example.com/webhook/abc/copernica-data-request?secret=s3cr3t',
		'http://127.0.0.1:5678/webhook-waiting/12?signature=abc%3D',
	])('accepts %s', (report) => {
		expect(validateReport(report)).toBe(report);
	});
	it.each([
		['javascript:alert(1)', '"javascript:" scheme'],
		['file:///etc/passwd', '"file:" scheme'],
		['ftp://example.com/x', '"ftp:" scheme'],
		['mailto:someone@example.com', '"mailto:" scheme'],
		['https://', 'not a valid web address'],
		['https://exa mple.com', 'white space'],
		['https://example.com/\r\nX-Injected: 1', 'control character'],
		['not an address', 'white space'],
		['nobody', 'as an email address'],
		[`https://example.com/${'a'.repeat(2100)}`, 'longer than 2048'],
	])('rejects %j', (report, reason) => {
		expect(() => validateReport(report)).toThrow(reason);
		expect(() => validateReport(report)).toThrow('Use an email address or a web address');
	});
});

describe('validateRequestId', () => {
	it('accepts numeric and other ids', () => {
		expect(validateRequestId('123')).toBe('123');
		expect(validateRequestId(' 5f2b-9a_c.1~x ')).toBe('5f2b-9a_c.1~x');
		expect(validateRequestId(77)).toBe('77');
	});
	it.each([
		['', 'is empty'],
		['   ', 'is empty'],
		['../identity', 'characters a Copernica id never has'],
		['1/status', 'characters a Copernica id never has'],
		['1?x=2', 'characters a Copernica id never has'],
		['..', 'characters a Copernica id never has'],
		['a'.repeat(200), 'longer than 128'],
	])('rejects %j', (id, reason) => {
		expect(() => validateRequestId(id)).toThrow(reason);
	});
});
