// receiveReport against a real HTTP request (Node's http server, as n8n's express has underneath),
// with n8n's part reduced to what the intake uses: the request, the response, prepareBinaryData.
// The engine harness runs no webhooks; real n8n runs these cases in test/e2e/intake.e2e.test.js.
import { createHash } from 'crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'http';
import type { AddressInfo } from 'net';
import type { IWebhookFunctions } from 'n8n-workflow';

import { isRefusal, receiveReport, refuse, type IntakeRules, type ReceivedReport } from '../../nodes/Copernica/intake';

interface Store {
	bytes: number;
	/** Whether the sender had finished when the store got its first chunk. */
	firstChunkAfterSenderDone?: boolean;
}

let senderDone = false;

function contextFor(req: IncomingMessage, res: ServerResponse, store: Store): IWebhookFunctions {
	const url = new URL(req.url ?? '/', 'http://localhost');
	Object.assign(req, { query: Object.fromEntries(url.searchParams) });
	const response = {
		get headersSent() {
			return res.headersSent;
		},
		setHeader: (name: string, value: string) => res.setHeader(name, value),
		status: (code: number) => ({
			json: (body: unknown) => {
				res.statusCode = code;
				res.setHeader('content-type', 'application/json');
				res.end(JSON.stringify(body));
			},
		}),
	};
	const context = {
		getRequestObject: () => req,
		getResponseObject: () => response,
		getNode: () => ({ name: 'Report' }),
		helpers: {
			prepareBinaryData: async (data: AsyncIterable<Buffer> | Buffer, fileName: string, mimeType: string) => {
				if (Buffer.isBuffer(data)) store.bytes += data.length;
				else
					for await (const chunk of data) {
						store.firstChunkAfterSenderDone ??= senderDone;
						store.bytes += chunk.length;
					}
				return { data: '', id: 'filesystem-v2:test', fileName, mimeType };
			},
		},
	};
	return context as unknown as IWebhookFunctions;
}

const rulesFor = (overrides: Partial<IntakeRules>): IntakeRules => ({
	authenticate: () => undefined,
	maxBytes: 256 * 1024,
	returnAs: 'binary',
	fileName: 'file.json',
	...overrides,
});

let server: Server;
let port: number;
let rules: IntakeRules;
let store: Store;
let received: ReceivedReport | undefined;

beforeAll(async () => {
	server = createServer((req, res) => {
		void (async () => {
			const context = contextFor(req, res, store);
			const result = await receiveReport.call(context, rules);
			if (isRefusal(result)) {
				refuse(context, result);
				return;
			}
			received = result;
			res.end('{"received":true}');
		})();
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
	server.closeAllConnections();
	await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
	store = { bytes: 0 };
	received = undefined;
	senderDone = false;
});

/** Sends `chunks` one after another (each once the previous is written), stopping at an answer. */
function send(chunks: Buffer[], headers: Record<string, string> = {}) {
	return new Promise<{ status: number; text: string; sentWhenAnswered: number; total: number }>((resolve, reject) => {
		const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
		let sent = 0;
		let answered = false;
		const req = httpRequest({ method: 'POST', host: '127.0.0.1', port, path: '/hook?ticket=T-1', headers: { 'content-type': 'application/json', ...headers } });
		req.on('response', (res) => {
			answered = true;
			const sentWhenAnswered = sent;
			let text = '';
			res.on('data', (chunk) => (text += chunk));
			res.on('end', () => {
				req.destroy();
				resolve({ status: res.statusCode ?? 0, text, sentWhenAnswered, total });
			});
		});
		req.on('error', (error) => {
			if (!answered) reject(error);
		});
		void (async () => {
			for (const chunk of chunks) {
				if (answered) return;
				await new Promise((done) => req.write(chunk, done));
				sent += chunk.length;
				// Let the server take this chunk in before the next one is written.
				await new Promise((done) => setImmediate(done));
			}
			senderDone = true;
			req.end();
		})().catch(() => undefined);
	});
}

function fileChunks(id: string, chunkCount: number, chunkSize = 64 * 1024): Buffer[] {
	const head = Buffer.from(`{"info":{"type":"email","id":"${id}"},"data":[["`);
	const tail = Buffer.from('"]]}');
	return [head, ...Array.from({ length: chunkCount }, () => Buffer.alloc(chunkSize, 'a')), tail];
}

describe('receiveReport on a real request stream', () => {
	it('answers 413 at the chunk that passes the limit, while the sender is still sending, and stores nothing more', async () => {
		rules = rulesFor({ maxBytes: 256 * 1024 });
		const answer = await send(fileChunks('big@example.com', 64));
		expect(answer.status).toBe(413);
		expect(JSON.parse(answer.text)).toEqual({ error: 'The body is larger than 0.3 MB' });
		expect(answer.sentWhenAnswered).toBeLessThan(answer.total);
		expect(store.bytes).toBeLessThanOrEqual(256 * 1024);
		expect(received).toBeUndefined();
	});

	it('answers 413 to an announced length over the limit before reading the body', async () => {
		rules = rulesFor({ maxBytes: 256 * 1024 });
		const chunks = fileChunks('announced@example.com', 64);
		const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
		const answer = await send(chunks, { 'content-length': String(total) });
		expect(answer.status).toBe(413);
		expect(answer.sentWhenAnswered).toBeLessThan(total);
		expect(store.bytes).toBe(0);
	});

	it('streams a binary file into the store as it arrives, and reads its info and digest on the way', async () => {
		rules = rulesFor({ maxBytes: 64 * 1024 * 1024 });
		const chunks = fileChunks('stream@example.com', 80);
		const body = Buffer.concat(chunks);
		const digest = `SHA-256=${createHash('sha256').update(body).digest('base64')}`;
		const answer = await send(chunks, { digest });
		expect(answer).toMatchObject({ status: 200, text: '{"received":true}' });
		// The store had the first chunk before the upload was over: nothing waited for the whole body.
		expect(store.firstChunkAfterSenderDone).toBe(false);
		expect(store.bytes).toBe(body.length);
		expect(received).toMatchObject({
			info: { type: 'email', id: 'stream@example.com' },
			contentLength: body.length,
			fileSha256: createHash('sha256').update(body).digest('hex'),
			query: { ticket: 'T-1' },
			summary: { bytes: body.length, groups: 1, entries: 1 },
		});
	});

	it('refuses a body whose Digest does not match once it is read (401), and returns no file', async () => {
		rules = rulesFor({ maxBytes: 64 * 1024 * 1024, returnAs: 'json' });
		const answer = await send(fileChunks('digest@example.com', 4), { digest: `SHA-256=${createHash('sha256').update('other').digest('base64')}` });
		expect(answer.status).toBe(401);
		expect(answer.text).toMatch(/Digest header does not match/);
		expect(received).toBeUndefined();
	});

	it('takes a JSON file into the item, and an unauthenticated caller is refused before the body is read', async () => {
		rules = rulesFor({ returnAs: 'json', maxBytes: 64 * 1024 * 1024 });
		expect((await send(fileChunks('json@example.com', 2))).status).toBe(200);
		expect(received?.data).toEqual([['a'.repeat(2 * 64 * 1024)]]);
		expect(received?.binary).toBeUndefined();

		received = undefined;
		rules = rulesFor({ authenticate: () => 'Missing or wrong secret' });
		const refused = await send(fileChunks('nobody@example.com', 32));
		expect(refused.status).toBe(401);
		expect(refused.sentWhenAnswered).toBeLessThan(refused.total);
		expect(store.bytes).toBe(0);
		expect(received).toBeUndefined();
	});

	it('refuses another account id (401) before the body is read', async () => {
		rules = rulesFor({ accountId: '4321' });
		const answer = await send(fileChunks('account@example.com', 32), { 'x-copernica-id': '999' });
		expect(answer.status).toBe(401);
		expect(answer.text).toMatch(/X-Copernica-ID/);
		expect(store.bytes).toBe(0);
	});
});
