/**
 * The one webhook intake: a data request file that Copernica posts, to the trigger's URL or to a
 * waiting execution's resume URL. It authenticates the caller (what that means is the node's
 * call), holds the body to a size limit, checks a Digest header, reads the file whatever the
 * content type, and builds the output item. A refusal answers the caller and starts nothing.
 */
import type { IBinaryData, IDataObject, INodeExecutionData, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';

import { DataFileScanner, summarizeDataFile, type DataFileSummary } from '../helpers/dataFile';
import type { KeyObject } from 'crypto';

import { digestMatches } from './authenticity';
import { readReportBody, type ReportFile } from './reportBody';
import { parseSignatureHeader, signatureMatches, signatureProblem, signingString } from './signature';

export { secretMatches, secretProblem } from './authenticity';

/** What n8n hands a webhook: the body parsed by n8n, and (from n8n's raw-body reader) its bytes. */
export type WebhookRequest = {
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
	report: ReportFile;
	/** The body's size in bytes. */
	contentLength: number;
	/** The report URL's query parameters, as the node got them. */
	query: Record<string, unknown>;
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
	maxBytes: number;
	/** Copernica's HTTP signature, where the node checks it. */
	signature?: SignatureRules;
}

const MEGABYTE = 1024 * 1024;
const tooLarge = (maxBytes: number): Refusal => ({
	status: 413,
	reason: `The body is larger than ${Math.round((maxBytes / MEGABYTE) * 10) / 10} MB`,
});

/** Takes in one report POST: the file, or why it is refused. */
export async function receiveReport(this: IWebhookFunctions, rules: IntakeRules): Promise<ReceivedReport | Refusal> {
	const request = this.getRequestObject() as unknown as WebhookRequest;
	const query = request.query ?? {};
	const unauthenticated = await rules.authenticate(query);
	if (unauthenticated !== undefined) return { status: 401, reason: unauthenticated };

	const declaredLength = Number(request.headers['content-length']);
	if (declaredLength > rules.maxBytes) return tooLarge(rules.maxBytes);
	if (request.rawBody === undefined && typeof request.readRawBody === 'function') await request.readRawBody();
	const rawBody = request.rawBody;
	const contentLength = rawBody?.length ?? (Number.isFinite(declaredLength) ? declaredLength : 0);
	if (contentLength > rules.maxBytes) return tooLarge(rules.maxBytes);

	if (rawBody !== undefined) {
		const digestHeader = request.headers.digest;
		const digestOk = digestMatches(Array.isArray(digestHeader) ? digestHeader[0] : digestHeader, rawBody);
		if (digestOk === false) return { status: 401, reason: 'The Digest header does not match the body' };
	}

	if (rules.signature) {
		const problem = await signatureRefusal(request, rawBody, rules.signature);
		if (problem !== undefined) return { status: 401, reason: problem };
	}

	const report = readReportBody(request.body, rawBody);
	if ('problem' in report) return { status: 400, reason: `Not a data request file: ${report.problem}` };
	return { report, contentLength, query };
}

/** Why a request's signature does not show that Copernica sent it, or undefined when it does. */
async function signatureRefusal(request: WebhookRequest, rawBody: Buffer | undefined, rules: SignatureRules) {
	const header = request.headers.signature;
	if (header === undefined) return rules.required ? 'The request carries no Copernica signature' : undefined;
	const parameters = parseSignatureHeader(Array.isArray(header) ? header[0] : header);
	if (parameters === undefined) return 'The Signature header is not an HTTP signature';
	const problem = signatureProblem(parameters, request.headers, Date.now());
	if (problem !== undefined) return `The signature is not accepted: ${problem}`;
	// The digest (checked against the body above) is what ties the signature to this body.
	if (rawBody === undefined) return 'The signature cannot be checked: the body was not available as received';
	const digest = request.headers.digest;
	if (digestMatches(Array.isArray(digest) ? digest[0] : digest, rawBody) !== true) {
		return 'The signature is not accepted: it comes without a SHA-256 Digest of the body';
	}
	const text = signingString(parameters, {
		method: request.method ?? 'POST',
		target: request.originalUrl ?? request.url ?? '',
		headers: request.headers,
	});
	if (text === undefined) return 'The signature covers a header the request does not have';
	let found = false;
	for (const fresh of [false, true]) {
		const key = await rules.key(parameters.keyId, fresh);
		found ||= key !== undefined;
		if (key !== undefined && signatureMatches(text, parameters.signature, key)) return undefined;
	}
	return found
		? "The signature does not match Copernica's key"
		: `Copernica's signing key ${parameters.keyId} could not be found: check the trigger's Key Lookup URL, or set Copernica Public Key`;
}

export const isRefusal = (value: ReceivedReport | Refusal): value is Refusal => 'status' in value;

/** Answers the caller with an error and starts nothing (no workflow data). */
export function refuse(context: IWebhookFunctions, { status, reason }: Refusal): IWebhookResponseData {
	const response = context.getResponseObject();
	if (!response.headersSent) response.status(status).json({ error: reason });
	return { noWebhookResponse: true };
}

export interface FileOutput {
	returnAs: 'json' | 'binary';
	binaryPropertyName: string;
	fileName: string;
	/** Fields the item starts with (the request, the query, ...). */
	json: IDataObject;
}

/**
 * The item for a received file: a summary always; the file's data in the item (JSON) or the
 * file itself in n8n's binary store (binary), never both.
 */
export async function fileItem(
	this: IWebhookFunctions,
	{ report, contentLength }: ReceivedReport,
	output: FileOutput,
): Promise<INodeExecutionData> {
	const info = { ...report.file.info };
	if (output.returnAs === 'binary') {
		const bytes = report.bytes;
		const scanner = new DataFileScanner();
		scanner.write(bytes);
		const binary: IBinaryData = await this.helpers.prepareBinaryData(bytes, output.fileName, 'application/json');
		return {
			json: { ...output.json, info, summary: scanner.result().summary, contentLength },
			binary: { [output.binaryPropertyName || 'data']: binary },
		};
	}
	const summary: DataFileSummary = summarizeDataFile(report.file, contentLength);
	return { json: { ...output.json, info, data: report.file.data as IDataObject[], summary, contentLength } };
}
