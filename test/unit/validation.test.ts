import {
	InvalidInputError,
	validateEmail,
	validateNumericId,
	validateReport,
	validateRequestId,
} from '../../nodes/Copernica/helpers/validation';

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
		// invisible characters that passed before: they make an address look like another one
		['admin\u202E@example.com', 'invisible or control character (U+202E)'],
		['some\u200Bone@example.com', 'invisible or control character (U+200B)'],
		['\u200Bsomeone@example.com', 'invisible or control character (U+200B)'],
		['some\u00ADone@example.com', 'invisible or control character (U+00AD)'],
		['some\u0085one@example.com', 'invisible or control character (U+0085)'],
		['some\uE000one@example.com', 'invisible or control character (U+E000)'],
		// a lone surrogate made encodeURIComponent throw "URI malformed" instead of a clear message
		['some\uD800one@example.com', 'invisible or control character (U+D800)'],
		['someone@1.2.3.4', 'ends in a number: use a domain name, not an IP address'],
	])('rejects %j: %s', (email, reason) => {
		expect(() => validateEmail(email)).toThrow(InvalidInputError);
		expect(() => validateEmail(email)).toThrow(reason);
	});

	it('shows invisible characters in the message as code points, so they cannot forge lines or flip text', () => {
		expect(() => validateEmail('someone@example.com\r\nBcc: victim@example.com')).toThrow(
			'"someone@example.com[U+000D][U+000A]Bcc: victim@example.com" is not a valid email address',
		);
		expect(() => validateEmail('admin\u202E@example.com')).toThrow('"admin[U+202E]@example.com"');
	});

	it('keeps IDN domains and combining marks', () => {
		expect(validateEmail('jose\u0301@example.com')).toBe('jose\u0301@example.com');
		expect(validateEmail('info@bu\u0308cher.de')).toBe('info@bu\u0308cher.de');
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
	it('takes plain http:// only to this machine, unless the credential allows it', () => {
		for (const report of ['http://127.0.0.1:5678/hook', 'http://localhost/hook', 'http://[::1]:8080/hook', 'http://n8n.localhost/hook']) {
			expect(validateReport(report)).toBe(report);
		}
		expect(() => validateReport('http://n8n.example.com/webhook/abc?secret=x')).toThrow(
			'is not usable: the personal data would travel unencrypted: use https://, or turn on "Allow Unencrypted HTTP" in the Copernica API credential',
		);
		expect(() => validateReport('http://10.0.0.5/hook')).toThrow('unencrypted');
		expect(validateReport('http://n8n.example.com/hook', true)).toBe('http://n8n.example.com/hook');
	});
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
		// URL parsers drop a zero-width space silently: this one would have gone to example.com
		['https://exam\u200Bple.com/webhook', 'invisible or control character (U+200B)'],
		['https://example.com/\u202Emoc.live', 'invisible or control character (U+202E)'],
		// was "the http: scheme is not supported", which is wrong advice
		['http:/example.com', 'not a valid web address'],
		['https:example.com', 'not a valid web address'],
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
