import { gdprDeadlines } from '../../nodes/Copernica/helpers/dates';
import { describeConnectionFailure, describeHttpFailure } from '../../nodes/Copernica/helpers/failure';
import { redactSecrets } from '../../nodes/Copernica/helpers/redact';
import { extractRequestId } from '../../nodes/Copernica/helpers/requestId';
import { parseStatusAnswer, saysNotAvailable, saysNotReadyYet } from '../../nodes/Copernica/helpers/responseForms';
import { normalizeBaseUrl } from '../../nodes/Copernica/helpers/baseUrl';

describe('extractRequestId', () => {
	it('reads X-Created first, whatever its case', () => {
		expect(extractRequestId({ headers: { 'x-created': '42', location: '/v3/datarequest/7' }, body: '' })).toBe('42');
		expect(extractRequestId({ headers: { 'X-Created': ' abc-1 ' }, body: '' })).toBe('abc-1');
	});
	it('reads the last segment of X-Location, then Location', () => {
		expect(extractRequestId({ headers: { 'x-location': 'https://api.copernica.com/v3/datarequest/991' }, body: '' })).toBe(
			'991',
		);
		expect(extractRequestId({ headers: { location: '/v3/datarequest/ab%2Dcd/?x=1#f' }, body: '' })).toBe('ab-cd');
	});
	it('reads JSON and plain-text bodies', () => {
		expect(extractRequestId({ headers: {}, body: '{"id": 15}' })).toBe('15');
		expect(extractRequestId({ headers: {}, body: { id: 'u-1' } })).toBe('u-1');
		expect(extractRequestId({ headers: {}, body: '  8812\n' })).toBe('8812');
		expect(extractRequestId({ headers: {}, body: '"q-9"' })).toBe('q-9');
	});
	it('finds nothing where there is nothing', () => {
		expect(extractRequestId({ headers: {}, body: '' })).toBeUndefined();
		expect(extractRequestId({ headers: { 'x-created': '' }, body: '{}' })).toBeUndefined();
		expect(extractRequestId({ headers: {}, body: '<html>Created</html>' })).toBeUndefined();
		expect(extractRequestId({ headers: { location: 'https://' }, body: undefined })).toBeUndefined();
	});
});

describe('gdprDeadlines (GDPR Art. 12(3): one month from receipt, extendable by two)', () => {
	const cases: Array<[string, string, string, string]> = [
		// received (instant), time zone, due by, extended due by
		['2026-01-15T10:00:00.000Z', 'UTC', '2026-02-15T23:59:59.999Z', '2026-04-15T23:59:59.999Z'],
		['2026-01-31T08:00:00.000Z', 'UTC', '2026-02-28T23:59:59.999Z', '2026-04-30T23:59:59.999Z'],
		['2028-01-31T08:00:00.000Z', 'UTC', '2028-02-29T23:59:59.999Z', '2028-04-30T23:59:59.999Z'],
		['2026-12-31T00:00:00.000Z', 'UTC', '2027-01-31T23:59:59.999Z', '2027-03-31T23:59:59.999Z'],
		// 23:30 UTC on 31 January is already 1 February in Amsterdam: the day counted is the local one
		['2026-01-31T23:30:00.000Z', 'Europe/Amsterdam', '2026-03-01T22:59:59.999Z', '2026-05-01T21:59:59.999Z'],
		// the due day has summer time (UTC+2) where the day of receipt had winter time
		['2026-03-10T09:00:00.000Z', 'Europe/Amsterdam', '2026-04-10T21:59:59.999Z', '2026-06-10T21:59:59.999Z'],
		['2026-11-30T15:00:00.000Z', 'America/New_York', '2026-12-31T04:59:59.999Z', '2027-03-01T04:59:59.999Z'],
		// an unknown time zone counts in UTC
		['2026-01-15T10:00:00.000Z', 'Mars/Olympus_Mons', '2026-02-15T23:59:59.999Z', '2026-04-15T23:59:59.999Z'],
	];
	it.each(cases)('%s in %s -> due %s, extended %s', (received, timeZone, dueBy, extendedDueBy) => {
		const deadlines = gdprDeadlines(new Date(received), timeZone);
		expect({ dueBy: deadlines.dueBy.toISOString(), extendedDueBy: deadlines.extendedDueBy.toISOString() }).toEqual({
			dueBy,
			extendedDueBy,
		});
	});
	it('gives the same answers in any order of time zones (a date format is kept per zone)', () => {
		const answer = ([received, timeZone]: [string, string, string, string]) => {
			const deadlines = gdprDeadlines(new Date(received), timeZone);
			return [deadlines.dueBy.toISOString(), deadlines.extendedDueBy.toISOString()];
		};
		const expected = cases.map(([, , dueBy, extendedDueBy]) => [dueBy, extendedDueBy]);
		expect([...cases].reverse().map(answer)).toEqual([...expected].reverse());
		expect([...cases, ...cases].map(answer)).toEqual([...expected, ...expected]);
	});
});

describe('redactSecrets', () => {
	const token = 'tok_1234567890abcdef';
	it('masks the token, its URL-encoded form and any access_token parameter', () => {
		const text = `GET https://api.copernica.com/v3/identity?access_token=${token}&x=1 failed; token ${token}; ${encodeURIComponent('a+b/c=')}`;
		const redacted = redactSecrets(text, [token]);
		expect(redacted).not.toContain(token);
		expect(redacted).toContain('access_token=***&x=1');
		expect(redactSecrets('access_token%3Dsecretvalue', [])).toBe('access_token%3D***');
		expect(redactSecrets('Authorization: Bearer eyJhbGciOi.x.y', [])).toBe('Authorization: Bearer ***');
		const special = 'a+b/c=d e';
		expect(redactSecrets(`x ${encodeURIComponent(special)} ${special}`, [special])).toBe('x *** ***');
	});
	it('leaves ordinary text alone', () => {
		expect(redactSecrets('Invalid access token', [token])).toBe('Invalid access token');
		expect(redactSecrets('a b c', ['', undefined, 'abc'])).toBe('a b c');
	});
});

describe('response forms', () => {
	it('reads /status answers', () => {
		expect(parseStatusAnswer('{"status":"available","available":1234,"content-type":"application/json"}')).toEqual({
			status: 'available',
			availableBytes: 1234,
		});
		expect(parseStatusAnswer('{"status":"pending"}')).toEqual({ status: 'pending' });
		expect(parseStatusAnswer('{"status":"Not Available"}')).toEqual({ status: 'not available' });
		expect(parseStatusAnswer('{"status":"weird"}')).toBeUndefined();
		expect(parseStatusAnswer('<html>')).toBeUndefined();
	});
	it('recognises every "not ready yet" form', () => {
		expect(saysNotReadyYet('{"data":"Data not available (yet)"}')).toBe(true);
		expect(saysNotReadyYet('{"data":"Data not available (yet)."}')).toBe(true);
		expect(saysNotReadyYet('{"error":{"message":"Data not available (yet)"}}')).toBe(true);
		expect(saysNotReadyYet('Data not available (yet)')).toBe(true);
		expect(saysNotReadyYet('{"info":{"type":"email","id":"a@b.c"},"data":[]}')).toBe(false);
		expect(saysNotReadyYet('{"error":{"message":"No entity with supplied ID"}}')).toBe(false);
	});
	it('takes as evidence of "not available" only an error that names the request unknown or expired', () => {
		for (const text of [
			'{"error":{"message":"Data request has expired"}}',
			'{"error":{"message":"Data request does not exist"}}',
			'{"error":{"message":"No entity with supplied ID"}}',
			'{"error":"Unknown data request"}',
			'{"message":"unknown id"}',
			'Data request does not exist',
		]) {
			expect([text, saysNotAvailable(text)]).toEqual([text, true]);
		}
		for (const text of [
			'',
			'{"error":{"message":"Unknown method"}}',
			'{"error":{"message":"Not found"}}',
			'{"error":{"message":"Data not available (yet)"}}',
			'{"error":{"message":"Invalid access token"}}',
			'<html><body>404 Not Found</body></html>',
			'{"info":{"type":"email","id":"expired@example.com"},"data":[]}',
		]) {
			expect([text, saysNotAvailable(text)]).toEqual([text, false]);
		}
	});
});

describe('failure descriptions', () => {
	it("uses Copernica's own message", () => {
		const text = describeHttpFailure(400, '{"error":{"message":"Invalid access token"}}');
		expect(text.message).toBe('Invalid access token');
		expect(text.description).toContain('HTTP 400');
	});
	it('explains an HTML page and a 429', () => {
		const html = describeHttpFailure(503, '<html><body>Service Unavailable</body></html>');
		expect(html.message).toBe('Copernica answered HTTP 503 Service Unavailable');
		expect(html.description).toContain('HTML page');
		expect(describeHttpFailure(429, '', '30').description).toContain('retry after 30 s');
	});
	it('names only the host of an unreachable server', () => {
		const text = describeConnectionFailure('ECONNREFUSED', '127.0.0.1:9');
		expect(text.message).toBe('Could not reach Copernica at 127.0.0.1:9: the connection was refused');
		expect(describeConnectionFailure(undefined, 'h').message).toContain('no answer came');
	});
});

describe('normalizeBaseUrl', () => {
	it('strips slashes and an API version', () => {
		expect(normalizeBaseUrl('https://api.copernica.com/')).toBe('https://api.copernica.com');
		expect(normalizeBaseUrl('http://127.0.0.1:8765/v3/')).toBe('http://127.0.0.1:8765');
		expect(normalizeBaseUrl('')).toBe('https://api.copernica.com');
	});
});
