/**
 * The one place that talks HTTP to Copernica: builds the URL from the credential's base URL,
 * sends through n8n's authenticated request helper (which adds the access token and honours the
 * instance's proxy and TLS settings), and turns failures into NodeApiErrors that never carry the
 * token, not even inside a URL echoed by a proxy.
 */
import type {
	IDataObject,
	IExecuteFunctions,
	IHttpRequestMethods,
	IN8nHttpFullResponse,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { describeConnectionFailure, describeHttpFailure, type FailureText } from '../helpers/failure';
import { redactSecrets } from '../helpers/redact';

export const CREDENTIAL_TYPE = 'copernicaApi';
const DEFAULT_TIMEOUT_SECONDS = 120;
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface CopernicaRequest {
	method: IHttpRequestMethods;
	/** Path below the base URL, already percent-encoded, e.g. `/v3/datarequest/12/status`. */
	path: string;
	body?: IDataObject;
	/** `stream` for file downloads, so that large files are never held as one string. */
	encoding?: 'text' | 'stream';
	/** HTTP statuses that are answers the caller handles, not failures (e.g. 404 while not ready). */
	acceptStatuses?: number[];
}

export interface CopernicaResponse {
	statusCode: number;
	headers: Record<string, unknown>;
	/** Text, or a readable stream with `encoding: 'stream'`. */
	body: unknown;
}

/** The credential's base URL without trailing slashes or API version, e.g. `https://api.copernica.com`. */
export function normalizeBaseUrl(baseUrl: unknown): string {
	const text = String(baseUrl ?? '').trim() || 'https://api.copernica.com';
	return text.replace(/\/+$/, '').replace(/\/v[34]$/i, '');
}

export async function copernicaApiRequest(
	this: IExecuteFunctions,
	request: CopernicaRequest,
	itemIndex: number,
): Promise<CopernicaResponse> {
	const credentials = await this.getCredentials(CREDENTIAL_TYPE, itemIndex);
	const baseUrl = normalizeBaseUrl(credentials.baseUrl);
	const secrets = [credentials.accessToken as string | undefined];
	const fail = (text: FailureText, httpCode?: string) => {
		const message = redactSecrets(text.message, secrets);
		const description = redactSecrets(text.description, secrets);
		// A plain object, not the HTTP client's error: that one holds the request URL and token.
		return new NodeApiError(this.getNode(), { message, description, httpCode } as JsonObject, {
			message,
			description,
			httpCode,
			itemIndex,
		});
	};

	let response: IN8nHttpFullResponse;
	try {
		response = (await this.helpers.httpRequestWithAuthentication.call(this, CREDENTIAL_TYPE, {
			method: request.method,
			url: `${baseUrl}${request.path}`,
			body: request.body,
			json: request.body !== undefined,
			encoding: request.encoding ?? 'text',
			headers: { Accept: 'application/json' },
			returnFullResponse: true,
			ignoreHttpStatusErrors: true,
			timeout: timeoutSeconds(this, itemIndex) * 1000,
		})) as IN8nHttpFullResponse;
	} catch (error) {
		throw fail(describeConnectionFailure(connectionErrorCode(error), hostOf(baseUrl)));
	}

	const { statusCode } = response;
	if (statusCode < 400 || request.acceptStatuses?.includes(statusCode)) {
		return { statusCode, headers: response.headers as Record<string, unknown>, body: response.body };
	}
	const body = await readErrorBody(response.body);
	const retryAfter = response.headers['retry-after'];
	throw fail(
		describeHttpFailure(statusCode, body, retryAfter === undefined ? undefined : String(retryAfter)),
		String(statusCode),
	);
}

/** The node's "Timeout (Seconds)" option. */
function timeoutSeconds(context: IExecuteFunctions, itemIndex: number): number {
	const seconds = Number(context.getNodeParameter('options.timeout', itemIndex, DEFAULT_TIMEOUT_SECONDS));
	return Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_TIMEOUT_SECONDS;
}

/** The body of a failed answer as text; streams are read up to a bound and then dropped. */
export async function readErrorBody(body: unknown): Promise<string> {
	if (body === undefined || body === null) return '';
	if (typeof body === 'string') return body;
	if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
	if (typeof (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
		const chunks: Buffer[] = [];
		let size = 0;
		for await (const chunk of body as AsyncIterable<Uint8Array>) {
			if (size < MAX_ERROR_BODY_BYTES) chunks.push(Buffer.from(chunk));
			size += chunk.length;
		}
		return Buffer.concat(chunks).toString('utf8').slice(0, MAX_ERROR_BODY_BYTES);
	}
	return JSON.stringify(body);
}

function connectionErrorCode(error: unknown): string | undefined {
	// n8n wraps the HTTP client's error in a NodeApiError: as its `cause` (or `errorResponse`),
	// and copies the code into `httpCode` when it cannot keep the original.
	const pending = [error];
	for (let depth = 0; pending.length > 0 && depth < 8; depth++) {
		const current = pending.shift() as Record<string, unknown> | undefined;
		if (!current || typeof current !== 'object') continue;
		for (const code of [current.code, current.httpCode]) {
			if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
		}
		pending.push(current.cause, current.errorResponse, current.reason);
	}
	return undefined;
}

function hostOf(baseUrl: string): string {
	try {
		return new URL(baseUrl).host;
	} catch {
		return 'the configured base URL';
	}
}
