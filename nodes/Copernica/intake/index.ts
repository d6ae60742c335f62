/**
 * The one webhook intake: a data request file that Copernica posts, to the trigger's URL or to a
 * waiting execution's resume URL. It checks everything the headers can tell first (the caller's
 * secret, the announced size, the account, the signature and its nonce), then reads the body from
 * the request stream itself: counting bytes (413 the moment the limit is passed), hashing them for
 * the Digest, and, for a binary file, passing them straight on to n8n's binary store. A refusal
 * answers the caller and starts nothing.
 *
 * n8n leaves the stream unread for a node of type version 1 whose `options.binaryData` is true
 * (README, "Limits"): both nodes declare that value. Where n8n has read and parsed the body
 * anyway (a workflow stored without it), the same checks run on the bytes n8n read.
 */
import { createHash, type KeyObject } from 'crypto';
import type { IBinaryData, IDataObject, INodeExecutionData, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';
import { NodeOperationError, sleep } from 'n8n-workflow';

import { DataFileScanner, summarizeDataFile, type DataFileInfo, type DataFileSummary } from '../helpers/dataFile';
import { declaredSha256, sha256Equal } from './authenticity';
import { BodyBuffer, BodyMeter, BodyTooLarge } from './bodyReader';
import { NonceMemory } from './nonces';
import { readReportBody } from './reportBody';
import { MAX_CLOCK_DIFFERENCE_MS, parseSignatureHeader, signatureMatches, signatureProblem, signingString } from './signature';

export { secretMatches, secretProblem } from './authenticity';

/** The parts of a Node.js readable stream the intake uses (community nodes may not import 'stream'). */
interface BodyStream {
	readableEnded: boolean;
	iterator(options: { destroyOnReturn: boolean }): AsyncIterable<Uint8Array>;
	resume(): void;
	destroy(): void;
	once(event: 'end', listener: () => void): void;
}
/** Node's Readable class, for n8n's binary store, which takes a Buffer or a Readable. */
type ReadableClass = { from(chunks: AsyncIterable<Buffer>, options: { objectMode: false }): unknown };

/** What n8n hands a webhook: the request stream, or (when n8n read it) the body it parsed and its bytes. */
export type WebhookRequest = Partial<BodyStream> & {
	method?: string;
	url?: string;
	originalUrl?: string;
	body?: unknown;
	rawBody?: Buffer;
	readRawBody?: () => Promise<void>;
	headers: Record<string, string | string[] | undefined>;
	query: Record<string, unknown>;
};

export interface Refusal {
	status: number;
	reason: string;
}

export interface ReceivedReport {
	info: DataFileInfo;
	summary: DataFileSummary;
	/** The body's size in bytes. */
	contentLength: number;
	/** SHA-256 (hex) of the file's JSON bytes. */
	fileSha256: string;
	/** The report URL's query parameters, as the node got them. */
	query: Record<string, unknown>;
	/** The file's data (Return File As: JSON). */
	data?: unknown[];
	/** The file in n8n's binary store (Return File As: binary). */
	binary?: IBinaryData;
}

export interface SignatureRules {
	/** Refuse requests without a signature (a signature that is there must verify anyway). */
	required: boolean;
	/** The public key of a key id; `fresh` asks past any cache (a key rotated since). */
	key(keyId: string, fresh: boolean): Promise<KeyObject | undefined>;
}

export interface IntakeRules {
	/** Undefined when the caller may post here; otherwise why not (answered 401). */
	authenticate(query: Record<string, unknown>): Promise<string | undefined> | string | undefined;
	/** Bytes; without it, DEFAULT_MAX_FILE_MB for the output the file goes to. */
	maxBytes?: number;
	/** Copernica's HTTP signature, where the node checks it. */
	signature?: SignatureRules;
	/** When set, the X-Copernica-ID header must be this account id. */
	accountId?: string;
	/** binary: the file goes to n8n's binary store as it arrives; json: into the item. */
	returnAs: 'json' | 'binary';
	fileName: string;
}

const MEGABYTE = 1024 * 1024;
/**
 * Size limits an instance survives (bench/RESULTS.md): a binary file streams into n8n's binary
 * store and costs memory only per chunk; a file in the item (JSON) is held several times over
 * (bytes, text, parsed data, then n8n's copy of the execution data).
 */
export const DEFAULT_MAX_FILE_MB = { binary: 512, json: 64 } as const;
const tooLarge = (maxBytes: number): Refusal => ({
	status: 413,
	reason: `The body is larger than ${Math.round((maxBytes / MEGABYTE) * 10) / 10} MB`,
});
// A signature's Date passes for 60 s either side of now: its nonce is kept as long as it could pass.
const nonces = new NonceMemory(2 * MAX_CLOCK_DIFFERENCE_MS, 10_000);
// After a refusal, a sender that goes on uploading is cut off this long after the answer.
const CUT_OFF_MS = 10_000;

const headerOf = (request: WebhookRequest, name: string) => {
	const value = request.headers[name];
	return Array.isArray(value) ? value[0] : value;
};

/** Takes in one report POST: the file, or why it is refused. */
export async function receiveReport(this: IWebhookFunctions, rules: IntakeRules): Promise<ReceivedReport | Refusal> {
	const request = this.getRequestObject() as unknown as WebhookRequest;
	const query = request.query ?? {};
	const unauthenticated = await rules.authenticate(query);
	if (unauthenticated !== undefined) return { status: 401, reason: unauthenticated };

	const maxBytes = rules.maxBytes ?? DEFAULT_MAX_FILE_MB[rules.returnAs] * MEGABYTE;
	const declaredLength = Number(request.headers['content-length']);
	if (declaredLength > maxBytes) return tooLarge(maxBytes);

	if (rules.accountId !== undefined && (headerOf(request, 'x-copernica-id') ?? '').trim() !== rules.accountId) {
		return { status: 401, reason: 'The X-Copernica-ID header is missing or names another Copernica account' };
	}
	if (rules.signature) {
		const problem = await signatureRefusal(request, rules.signature);
		if (problem !== undefined) return { status: 401, reason: problem };
	}

	const read = await readFile.call(this, request, rules, maxBytes, Number.isFinite(declaredLength) ? declaredLength : undefined);
	if ('status' in read) return read;
	const declared = declaredSha256(headerOf(request, 'digest'));
	if (declared !== undefined && !sha256Equal(declared, read.bodySha256)) {
		// A binary file already in n8n's store stays unreferenced: no item, no execution.
		return { status: 401, reason: 'The Digest header does not match the body' };
	}
	const { bodySha256: _body, ...report } = read;
	return { ...report, query };
}

type ReadFile = Omit<ReceivedReport, 'query'> & { bodySha256: Buffer };

/**
 * The body as chunks: from the stream when n8n left it unread, otherwise the bytes n8n read. A
 * compressed body is left to n8n's reader (it decompresses, within N8N_PAYLOAD_SIZE_MAX).
 */
async function bodyChunks(request: WebhookRequest): Promise<AsyncIterable<Uint8Array>> {
	const encoding = (headerOf(request, 'content-encoding') ?? 'identity').toLowerCase();
	if (request.rawBody === undefined && request.readableEnded === false && typeof request.iterator === 'function' && encoding === 'identity') {
		// Not destroyed when reading stops early: the caller still gets its answer over this connection.
		return request.iterator({ destroyOnReturn: false });
	}
	if (request.rawBody === undefined && typeof request.readRawBody === 'function') await request.readRawBody();
	const bytes = request.rawBody ?? Buffer.alloc(0);
	return (async function* () {
		yield bytes;
	})();
}

/** Node's Readable class, found on the request (an http.IncomingMessage is one). */
function readableClassOf(request: WebhookRequest): ReadableClass | undefined {
	for (let prototype = Object.getPrototypeOf(request); prototype; prototype = Object.getPrototypeOf(prototype)) {
		const constructor = (prototype as { constructor?: { name?: string; from?: unknown } }).constructor;
		if (constructor?.name === 'Readable' && typeof constructor.from === 'function') return constructor as ReadableClass;
	}
	return undefined;
}

const isForm = (contentType: string | undefined) => (contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');

async function readFile(
	this: IWebhookFunctions,
	request: WebhookRequest,
	rules: IntakeRules,
	maxBytes: number,
	declaredLength: number | undefined,
): Promise<ReadFile | Refusal> {
	const meter = new BodyMeter(maxBytes);
	const chunks = meter.pass(await bodyChunks(request));
	try {
		// A JSON body goes to the binary store as it arrives; a form (JSON in a field) is read whole.
		const Readable = readableClassOf(request);
		if (rules.returnAs === 'binary' && Readable && !isForm(headerOf(request, 'content-type'))) {
			return await streamToStore.call(this, Readable, chunks, meter, rules.fileName);
		}
		const whole = request.rawBody ? undefined : new BodyBuffer(declaredLength);
		for await (const chunk of chunks) whole?.add(chunk);
		return await fromWholeBody.call(this, whole ? whole.result() : (request.rawBody as Buffer), whole ? undefined : request.body, meter, rules);
	} catch (error) {
		// (n8n's binary store may pass the reader's error on wrapped)
		if (error instanceof BodyTooLarge || meter.bytes > maxBytes) return tooLarge(maxBytes);
		throw new NodeOperationError(this.getNode(), error as Error);
	}
}

/** A body read whole: n8n's (parsed too), a form, or a JSON file in the item. */
async function fromWholeBody(
	this: IWebhookFunctions,
	body: Buffer,
	parsedBody: unknown,
	meter: BodyMeter,
	rules: IntakeRules,
): Promise<ReadFile | Refusal> {
	const report = readReportBody(parsedBody, body);
	if ('problem' in report) return { status: 400, reason: `Not a data request file: ${report.problem}` };
	const fileBytes = report.bytes;
	const fileSha256 = fileBytes === body ? meter.sha256.toString('hex') : createHash('sha256').update(fileBytes).digest('hex');
	const read = { info: { ...report.file.info }, contentLength: meter.bytes, fileSha256, bodySha256: meter.sha256 };
	if (rules.returnAs === 'binary') {
		const scanner = new DataFileScanner();
		scanner.write(fileBytes);
		const binary = await this.helpers.prepareBinaryData(fileBytes, rules.fileName, 'application/json');
		return { ...read, summary: scanner.result().summary, binary };
	}
	return { ...read, summary: summarizeDataFile(report.file, meter.bytes), data: report.file.data };
}

/** Passes the body on to n8n's binary store chunk by chunk, reading the file's info on the way. */
async function streamToStore(
	this: IWebhookFunctions,
	Readable: ReadableClass,
	chunks: AsyncIterable<Buffer>,
	meter: BodyMeter,
	fileName: string,
): Promise<ReadFile | Refusal> {
	const scanner = new DataFileScanner();
	const scanned = (async function* () {
		for await (const chunk of chunks) {
			scanner.write(chunk);
			yield chunk;
		}
	})();
	// The store pulls the chunks as fast as it writes them: the file is never held whole.
	const stream = Readable.from(scanned, { objectMode: false }) as Parameters<IWebhookFunctions['helpers']['prepareBinaryData']>[0];
	const binary = await this.helpers.prepareBinaryData(stream, fileName, 'application/json');
	let found;
	try {
		found = scanner.result();
	} catch (error) {
		return { status: 400, reason: `Not a data request file: ${(error as Error).message}` };
	}
	return { ...found, contentLength: meter.bytes, fileSha256: meter.sha256.toString('hex'), binary, bodySha256: meter.sha256 };
}

/** Why a request's signature does not show that Copernica sent it, or undefined when it does. */
async function signatureRefusal(request: WebhookRequest, rules: SignatureRules) {
	const header = headerOf(request, 'signature');
	if (header === undefined) return rules.required ? 'The request carries no Copernica signature' : undefined;
	const parameters = parseSignatureHeader(header);
	if (parameters === undefined) return 'The Signature header is not an HTTP signature';
	const problem = signatureProblem(parameters, request.headers, Date.now());
	if (problem !== undefined) return `The signature is not accepted: ${problem}`;
	// The digest (checked against the body once read) is what ties the signature to this body.
	if (declaredSha256(headerOf(request, 'digest')) === undefined) {
		return 'The signature is not accepted: it comes without a SHA-256 Digest of the body';
	}
	const text = signingString(parameters, {
		method: request.method ?? 'POST',
		target: request.originalUrl ?? request.url ?? '',
		headers: request.headers,
	});
	if (text === undefined) return 'The signature covers a header the request does not have';
	let found = false;
	let verified = false;
	for (const fresh of [false, true]) {
		const key = await rules.key(parameters.keyId, fresh);
		found ||= key !== undefined;
		if (key !== undefined && signatureMatches(text, parameters.signature, key)) {
			verified = true;
			break;
		}
	}
	if (!verified) {
		return found
			? "The signature does not match Copernica's key"
			: `Copernica's signing key ${parameters.keyId} could not be found: check the trigger's Key Lookup URL, or set Copernica Public Key`;
	}
	// A copy of a genuine delivery sent again: its nonce (or, where the signature covers none, the
	// signature itself) was seen while its Date still passes.
	const nonce = parameters.headers.includes('x-nonce') ? headerOf(request, 'x-nonce') : undefined;
	if (nonces.seenBefore(nonce !== undefined ? `nonce ${nonce}` : `signature ${parameters.signature}`, Date.now())) {
		return 'This signed delivery was received before (its X-Nonce is repeated)';
	}
	return undefined;
}

export const isRefusal = (value: ReceivedReport | Refusal): value is Refusal => 'status' in value;

/**
 * Answers the caller with an error and starts nothing (no workflow data). A body still arriving
 * is not read: the answer closes the connection, and a sender that keeps sending is cut off.
 */
export function refuse(context: IWebhookFunctions, { status, reason }: Refusal): IWebhookResponseData {
	const request = context.getRequestObject() as unknown as WebhookRequest;
	const response = context.getResponseObject();
	const unread = request.readableEnded === false && typeof request.resume === 'function';
	if (!response.headersSent) {
		if (unread) response.setHeader('Connection', 'close');
		response.status(status).json({ error: reason });
	}
	if (unread) {
		// Drained, not destroyed at once: closing a socket with unread bytes would reset it and
		// lose the answer on the way.
		request.resume!();
		void sleep(CUT_OFF_MS).then(() => {
			if (!request.readableEnded) request.destroy!();
		});
	}
	return { noWebhookResponse: true };
}

/** The item for a received file: a summary always; the file's data (JSON) or the binary file, never both. */
export function fileItem(received: ReceivedReport, binaryPropertyName: string, json: IDataObject): INodeExecutionData {
	const { info, summary, contentLength } = received;
	const item: INodeExecutionData = { json: { ...json, info: { ...info }, summary, contentLength } };
	if (received.binary) item.binary = { [binaryPropertyName || 'data']: received.binary };
	else item.json = { ...json, info: { ...info }, data: received.data as IDataObject[], summary, contentLength };
	return item;
}
