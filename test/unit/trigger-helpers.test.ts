import { createHash } from 'crypto';

import { digestMatches, secretMatches, secretProblem } from '../../nodes/Copernica/intake/authenticity';
import { maskReportSecret } from '../../nodes/Copernica/helpers/redact';
import { deliveryKey } from '../../nodes/Copernica/helpers/deliveryKey';
import { readReportBody } from '../../nodes/Copernica/intake/reportBody';

const file = { info: { type: 'email', id: 'a@example.com' }, data: [[{ x: 1 }]] };
const json = JSON.stringify(file);

describe('secretMatches', () => {
	it('accepts only the exact secret', () => {
		expect(secretMatches('s3cret-value', 's3cret-value')).toBe(true);
		expect(secretMatches('s3cret-valuE', 's3cret-value')).toBe(false);
		expect(secretMatches('s3cret', 's3cret-value')).toBe(false);
		expect(secretMatches(undefined, 's3cret-value')).toBe(false);
		expect(secretMatches(['s3cret-value'], 's3cret-value')).toBe(false);
		expect(secretMatches('', '')).toBe(false);
	});
});

describe('secretProblem', () => {
	it('accepts a long random secret', () => {
		expect(secretProblem('q7Vh2mZp9LxR4tWb8NcE1sYk')).toBeUndefined();
		expect(secretProblem('  q7Vh2mZp9LxR4tWb8NcE1sYk  ')).toBeUndefined();
		expect(secretProblem('copernica-report-secret-4f7a9c1e')).toBeUndefined();
	});
	it.each([
		['', 'has no secret'],
		['   ', 'has no secret'],
		[undefined, 'has no secret'],
		['q7Vh2mZp9LxR4tWb', 'is 16 characters long, too short'],
		['change-me-to-a-long-random-value', 'placeholder'],
		['CHANGE-ME-TO-A-LONG-RANDOM-VALUE-2', 'placeholder'],
		['replace-me-with-your-secret-value', 'placeholder'],
		['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'placeholder'],
	])('refuses %j (%s) and says what to do', (secret, reason) => {
		const problem = secretProblem(secret);
		expect(problem).toContain(reason);
		expect(problem).toContain('at least 24 characters');
	});
});

describe('maskReportSecret', () => {
	it("masks the secret of a report URL and leaves the rest as it is", () => {
		expect(maskReportSecret('https://n8n.example.com/webhook/abc/copernica-data-request?secret=q7Vh2mZp9LxR&ticket=T-1')).toBe(
			'https://n8n.example.com/webhook/abc/copernica-data-request?secret=***&ticket=T-1',
		);
		expect(maskReportSecret('https://x.example.com/hook?ticket=1&SECRET=abc#f')).toBe('https://x.example.com/hook?ticket=1&SECRET=***#f');
		expect(maskReportSecret('privacy@example.com')).toBe('privacy@example.com');
		expect(maskReportSecret('https://x.example.com/hook?mysecret=1')).toBe('https://x.example.com/hook?mysecret=1');
	});
});

describe('digestMatches', () => {
	const body = Buffer.from(json);
	const digest = createHash('sha256').update(body).digest('base64');
	it('checks a SHA-256 digest against the body', () => {
		expect(digestMatches(`SHA-256=${digest}`, body)).toBe(true);
		expect(digestMatches(`md5=abc, sha-256=${digest}`, body)).toBe(true);
		expect(digestMatches(`SHA-256=${digest}`, Buffer.from(json + ' '))).toBe(false);
		expect(digestMatches('SHA-256=bm9wZQ==', body)).toBe(false);
	});
	it('has nothing to check without a SHA-256 digest', () => {
		expect(digestMatches(undefined, body)).toBeUndefined();
		expect(digestMatches('md5=abc', body)).toBeUndefined();
	});
});

describe('readReportBody', () => {
	/** The found file with its JSON as text and (decoded, to compare) as bytes. */
	const found = (result: ReturnType<typeof readReportBody>) =>
		'problem' in result ? result : { file: result.file, jsonText: result.jsonText, bytes: result.bytes.toString('utf8') };

	it('takes a body n8n already parsed as JSON', () => {
		const raw = Buffer.from(json);
		const result = readReportBody(file, raw);
		expect(found(result)).toEqual({ file, jsonText: json, bytes: json });
		// The request's own bytes, not a copy: a large file is not held twice.
		expect('bytes' in result && result.bytes).toBe(raw);
	});
	it('takes JSON in a form field', () => {
		const form = new URLSearchParams({ data: json }).toString();
		expect(found(readReportBody({ data: json }, Buffer.from(form)))).toEqual({ file, jsonText: json, bytes: json });
		expect(found(readReportBody({}, Buffer.from(new URLSearchParams({ file: json }).toString())))).toEqual({
			file,
			jsonText: json,
			bytes: json,
		});
	});
	it('takes JSON text under another content type', () => {
		expect(found(readReportBody(undefined, Buffer.from(`\n${json}`)))).toEqual({ file, jsonText: `\n${json}`, bytes: `\n${json}` });
		expect(readReportBody('', Buffer.from(json))).toMatchObject({ file });
	});
	it('says why a body is not a data request file', () => {
		expect(readReportBody({ hello: 'world' }, Buffer.from('{"hello":"world"}'))).toEqual({
			problem: 'not a data request file: it has no "info" object',
		});
		expect(readReportBody(undefined, Buffer.from('{"info":'))).toEqual({ problem: 'the body is not valid JSON' });
		expect(readReportBody(undefined, Buffer.alloc(0))).toEqual({ problem: 'the body is empty' });
		expect(readReportBody(undefined, Buffer.from('a=b'))).toEqual({ problem: 'the body holds no data request file' });
	});
});

describe('deliveryKey', () => {
	const sha = (text: string) => createHash('sha256').update(text).digest('hex');
	const fileSha = sha(json);
	it('is the same for the same file and report URL parameters, in any order', () => {
		expect(deliveryKey(fileSha, { ticket: 'T-1', lang: 'nl' })).toBe(deliveryKey(sha(json), { lang: 'nl', ticket: 'T-1' }));
		expect(deliveryKey(fileSha, {})).toMatch(/^[0-9a-f]{64}$/);
	});
	it('differs for another ticket or another file', () => {
		const key = deliveryKey(fileSha, { ticket: 'T-1' });
		expect(deliveryKey(fileSha, { ticket: 'T-2' })).not.toBe(key);
		expect(deliveryKey(sha(json.replace('a@example.com', 'b@example.com')), { ticket: 'T-1' })).not.toBe(key);
		expect(deliveryKey(fileSha, { ticket: ['T-1'] })).not.toBe(key);
	});
});
