import { createHash, generateKeyPairSync, sign } from 'crypto';

import {
	parseSignatureHeader,
	publicKeyFromDnsTxt,
	publicKeyFromText,
	signatureMatches,
	signatureProblem,
	signingString,
	txtRecordsOf,
} from '../../nodes/Copernica/intake/signature';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const dnsTxt = `v=DKIM1; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
const now = Date.parse('2026-12-01T10:00:00Z');
const body = '{"info":{"type":"email","id":"a@example.com"},"data":[]}';
const headers = {
	host: 'n8n.example.com',
	date: new Date(now).toUTCString(),
	'content-type': 'application/json',
	digest: `SHA-256=${createHash('sha256').update(body).digest('base64')}`,
	'x-copernica-id': '4321',
};
const covered = '(request-target) host date content-type x-copernica-id digest';
const target = '/webhook/abc/copernica-data-request?secret=s&ticket=T-1';

function signed(extra: Partial<Record<string, string>> = {}, keyId = 'mail._domainkey.copernica.com', key = privateKey) {
	const parameters = { keyId, algorithm: 'rsa-sha256', headers: covered.split(' '), signature: '' };
	const text = signingString(parameters, { method: 'POST', target, headers: { ...headers, ...extra } })!;
	const signature = sign('sha256', Buffer.from(text), key).toString('base64');
	return `keyId="${keyId}",algorithm="rsa-sha256",headers="${covered}",signature="${signature}"`;
}

describe('Copernica HTTP signatures', () => {
	it('reads the Signature header', () => {
		expect(parseSignatureHeader(signed())).toMatchObject({
			keyId: 'mail._domainkey.copernica.com',
			algorithm: 'rsa-sha256',
			headers: ['(request-target)', 'host', 'date', 'content-type', 'x-copernica-id', 'digest'],
		});
		expect(parseSignatureHeader(undefined)).toBeUndefined();
		expect(parseSignatureHeader('Bearer abc')).toBeUndefined();
	});

	it('verifies a genuine signature with the key from the DNS record, and nothing else', () => {
		const parameters = parseSignatureHeader(signed())!;
		const text = signingString(parameters, { method: 'POST', target, headers })!;
		expect(text.split('\n')[0]).toBe(`(request-target): post ${target}`);
		const key = publicKeyFromDnsTxt(dnsTxt)!;
		expect(signatureMatches(text, parameters.signature, key)).toBe(true);
		// another body (so another digest), another target, another key: no
		const tampered = signingString(parameters, { method: 'POST', target, headers: { ...headers, digest: 'SHA-256=AAAA' } })!;
		expect(signatureMatches(tampered, parameters.signature, key)).toBe(false);
		const elsewhere = signingString(parameters, { method: 'POST', target: '/webhook/other', headers })!;
		expect(signatureMatches(elsewhere, parameters.signature, key)).toBe(false);
		expect(signatureMatches(text, parameters.signature, other.publicKey)).toBe(false);
		expect(signatureMatches(text, 'not base64 at all', key)).toBe(false);
	});

	it('needs every covered header', () => {
		const parameters = parseSignatureHeader(signed())!;
		const { digest: _digest, ...withoutDigest } = headers;
		expect(signingString(parameters, { method: 'POST', target, headers: withoutDigest })).toBeUndefined();
	});

	it('accepts only Copernica keys, rsa-sha256, the target, date and digest covered, and a recent date', () => {
		const ok = parseSignatureHeader(signed())!;
		expect(signatureProblem(ok, headers, now)).toBeUndefined();
		expect(signatureProblem(ok, headers, now + 59_000)).toBeUndefined();
		expect(signatureProblem(ok, headers, now + 61_000)).toBe('the Date header is more than 60 seconds off');
		expect(signatureProblem(ok, { ...headers, date: 'yesterday' }, now)).toBe('the Date header is missing or not a date');
		expect(signatureProblem({ ...ok, keyId: 'mail._domainkey.copernica.com.evil.example' }, headers, now)).toContain("is not Copernica's");
		expect(signatureProblem({ ...ok, keyId: 'notcopernica.com' }, headers, now)).toContain("is not Copernica's");
		expect(signatureProblem({ ...ok, algorithm: 'hmac-sha256' }, headers, now)).toContain('is not rsa-sha256');
		expect(signatureProblem({ ...ok, headers: ['date'] }, headers, now)).toBe('the signature does not cover (request-target), digest');
	});

	it('reads keys from DNS answers and from pasted text', () => {
		const chunks = dnsTxt.match(/.{1,255}/g)!.map((c) => `"${c}"`).join(' ');
		expect(txtRecordsOf({ Status: 0, Answer: [{ type: 16, data: chunks }] })).toEqual([dnsTxt]);
		expect(txtRecordsOf({ Status: 3 })).toEqual([]);
		expect(txtRecordsOf({ Answer: [{ type: 5, data: 'cname.example.' }] })).toEqual([]);
		const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
		for (const text of [pem, dnsTxt, dnsTxt.slice('v=DKIM1; p='.length)]) {
			expect(publicKeyFromText(text)?.export({ type: 'spki', format: 'pem' })).toBe(pem);
		}
		expect(publicKeyFromText('not a key')).toBeUndefined();
		expect(publicKeyFromDnsTxt('v=DKIM1; p=')).toBeUndefined();
	});
});
