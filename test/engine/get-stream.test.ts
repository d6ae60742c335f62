// Get as binary scans the file while it streams into n8n's binary store: a broken or cut-off
// file still fails the item with a clear message, in both binary data modes, and a good file is
// stored byte for byte.
import { createServer, type Server } from 'http';
import type { AddressInfo } from 'net';

import { getBinaryBuffer, cleanupEngine } from './harness';
import { runNode } from './copernica';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { dataFileText } = require('../sandbox/datafile');

const good: string = dataFileText({ size: 300_000, type: 'email', id: 'stream@example.com', seed: 4 });
const large: string = dataFileText({ size: 3_500_000, type: 'email', id: 'large@example.com', seed: 5 });
const bodies: Record<string, string> = {
	good,
	cut: good.slice(0, Math.floor(good.length / 2)),
	large,
	garbage: '{"info": {"type": "email", "id": "x@example.com"}, "data": [[1, 2]] }}}: ::: not json',
	notAFile: JSON.stringify({ hello: 'world', data: [] }),
};

let server: Server;
let baseUrl: string;
beforeAll(async () => {
	// A minimal Copernica: every request is available, /data answers the body named by the id.
	server = createServer((request, response) => {
		const match = /^\/v3\/datarequest\/([^/?]+)\/(status|data)/.exec(request.url ?? '');
		if (!match) {
			response.writeHead(404).end();
			return;
		}
		if (match[2] === 'status') {
			response.writeHead(200, { 'Content-Type': 'application/json' });
			response.end(JSON.stringify({ status: 'available' }));
			return;
		}
		const body = Buffer.from(bodies[match[1]] ?? '', 'utf8');
		response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
		// In small pieces, so that the scan sees many chunks.
		let at = 0;
		const next = () => {
			if (at >= body.length) {
				response.end();
				return;
			}
			response.write(body.subarray(at, (at += 16 * 1024)));
			setImmediate(next);
		};
		next();
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
	await new Promise((resolve) => server.close(resolve));
	await cleanupEngine();
});

const get = (requestId: string) => ({ operation: 'get', requestId, returnAs: 'binary', binaryPropertyName: 'file' });

describe.each(['default', 'filesystem'] as const)('Get as binary, scanned while streaming (%s mode)', (binaryDataMode) => {
	it('stores the file byte for byte and summarises it', async () => {
		const { run, output } = await runNode(undefined, get('good'), { baseUrl, binaryDataMode });
		expect(run.error).toBeUndefined();
		const item = output![0];
		const stored = await getBinaryBuffer(item.binary!.file);
		expect(stored.equals(Buffer.from(good, 'utf8'))).toBe(true);
		const file = JSON.parse(good);
		expect(item.json).toMatchObject({ status: 'available', info: { type: 'email', id: 'stream@example.com' } });
		expect(item.json.summary).toMatchObject({ bytes: stored.length, groups: file.data.length });
	});

	it('stores a file of several megabytes byte for byte (many socket chunks, each scanned on the way)', async () => {
		const { run, output } = await runNode(undefined, get('large'), { baseUrl, binaryDataMode });
		expect(run.error).toBeUndefined();
		const stored = await getBinaryBuffer(output![0].binary!.file);
		expect(stored.equals(Buffer.from(large, 'utf8'))).toBe(true);
		expect(output![0].json.summary).toMatchObject({ bytes: stored.length, groups: JSON.parse(large).data.length });
	});

	it.each([
		['cut', 'the body ends before the JSON does'],
		['garbage', 'the body is not valid JSON'],
		['notAFile', 'it has no "info" object'],
	])('fails the item when the file is %s', async (id, reason) => {
		const { run } = await runNode(undefined, get(id), { baseUrl, binaryDataMode });
		expect(run.error?.message).toBe(`Copernica sent a file that is not a data request file: ${reason}`);
	});
});
