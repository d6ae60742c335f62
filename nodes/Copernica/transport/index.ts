/**
 * The one place that talks HTTP to Copernica: builds the URL from the credential's base URL,
 * sends through n8n's authenticated request helper (which adds the access token and honours the
 * instance's proxy and TLS settings), retries temporary faults (helpers/retry.ts says which, per
 * method: a create is never repeated when it may have been processed), and turns failures into
 * NodeApiErrors that never carry the token, not even inside a URL echoed by a proxy.
 */
import type {
	ICredentialsDecrypted,
	IDataObject,
	IExecuteFunctions,
	IHttpRequestMethods,
	IN8nHttpFullResponse,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { apiVersionOf, baseUrlVersionConflict, normalizeBaseUrl, versionedPath } from '../helpers/baseUrl';
import { jwtNeedsRenewal } from '../helpers/jwt';
import { takeExchangeFailure, type ExchangeFailure } from './exchange';
import { runLimitIfAny } from '../helpers/concurrency';
import { describeConnectionFailure, describeHttpFailure, type FailureText } from '../helpers/failure';
import { redactSecrets } from '../helpers/redact';
import { sleepUnlessCancelled } from '../helpers/sleepUnlessCancelled';
import { isLoopbackHost, UNENCRYPTED_HINT } from '../helpers/validation';
import {
	DEFAULT_RETRIES,
	isRetryable,
	MAX_RETRY_AFTER_MS,
	outcomeUnknown,
	parseRetryAfterMs,
	retryCount,
	retryDelayMs,
	type Fault,
} from '../helpers/retry';

export const CREDENTIAL_TYPE = 'copernicaApi';
const DEFAULT_TIMEOUT_SECONDS = 120;
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface CopernicaRequest {
	method: IHttpRequestMethods;
	/** Path below the base URL, already percent-encoded, written for v3 (`/v3/datarequest/12/status`): sent under /v4 with API v4. */
	path: string;
	body?: IDataObject;
	/** `stream` for file downloads, so that large files are never held as one string. */
	encoding?: 'text' | 'stream';
	/** HTTP statuses that are answers the caller handles, not failures (e.g. 404 while not ready). */
	acceptStatuses?: number[];
	/** Other failed answers the caller handles, by their text (e.g. 400 "Data request does not exist"). */
	acceptError?: (text: string) => boolean;
}

export interface CopernicaResponse {
	statusCode: number;
	headers: Record<string, unknown>;
	/** Text, or a readable stream with `encoding: 'stream'`. */
	body: unknown;
}


/**
 * The credential, read once per node run: each getCredentials is a database read and a decryption
 * in n8n, and the request helper would read it once more per call unless it is handed over.
 * Keyed by the execution context, which n8n makes once per node run and shares by all its items
 * (n8n's own request helper reads the credential without an item index too).
 * With API v4 the run also shares its JWT: n8n writes a renewed one into this same object.
 */
interface RunCredentials {
	credentials: Promise<ICredentialsDecrypted>;
	/** The call that is exchanging the token for a JWT right now; the others wait for it. */
	renewal?: Promise<unknown>;
	/** Copernica refused the token in this run: every later call fails with that, without asking again. */
	refused?: ExchangeFailure;
}
const credentialsPerRun = new WeakMap<object, RunCredentials>();
function runCredentialsOf(context: IExecuteFunctions, itemIndex: number): RunCredentials {
	let run = credentialsPerRun.get(context);
	if (run === undefined) {
		const stored = context.getNode().credentials?.[CREDENTIAL_TYPE];
		const credentials = context.getCredentials(CREDENTIAL_TYPE, itemIndex).then((data) => ({
			id: stored?.id ?? '',
			name: stored?.name ?? '',
			type: CREDENTIAL_TYPE,
			data,
		}));
		run = { credentials };
		credentialsPerRun.set(context, run);
	}
	return run;
}
function credentialsOf(context: IExecuteFunctions, itemIndex: number): Promise<ICredentialsDecrypted> {
	return runCredentialsOf(context, itemIndex).credentials;
}

/** The credential's "Allow Unencrypted HTTP": plain http:// beyond this machine. */
export async function allowsUnencryptedHttp(context: IExecuteFunctions, itemIndex: number): Promise<boolean> {
	return (await credentialsOf(context, itemIndex)).data?.allowUnencryptedHttp === true;
}

export async function copernicaApiRequest(
	this: IExecuteFunctions,
	request: CopernicaRequest,
	itemIndex: number,
): Promise<CopernicaResponse> {
	const run = runCredentialsOf(this, itemIndex);
	const credentialsDecrypted = await run.credentials;
	const credentials = (credentialsDecrypted.data ??= {});
	const version = apiVersionOf(credentials);
	const conflict = baseUrlVersionConflict(credentials.baseUrl, version);
	if (conflict !== undefined) {
		throw new NodeOperationError(this.getNode(), conflict, { itemIndex, description: 'Nothing was sent.' });
	}
	const baseUrl = normalizeBaseUrl(credentials.baseUrl);
	if (/^http:/i.test(baseUrl) && credentials.allowUnencryptedHttp !== true && !isLoopbackHost(hostnameOf(baseUrl))) {
		throw new NodeOperationError(this.getNode(), `The credential's Base URL ${baseUrl} uses http://`, {
			itemIndex,
			description: `Nothing was sent: the access token and ${UNENCRYPTED_HINT}.`,
		});
	}
	const fail = (text: FailureText, httpCode?: string) => {
		// Read at the time of failing: the JWT may have been renewed during the call.
		const secrets = [credentials.accessToken as string | undefined, credentials.expirable as string | undefined];
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

	/**
	 * API v4: the JWT this call will go with. Empties it (so that n8n exchanges the token during
	 * this call) when it is about to run out or is `stale` (the one a call was refused with); then
	 * this call is the run's one renewal, and the others wait for it and use the new JWT.
	 * Returns the function that ends the renewal, or undefined when this call does not renew.
	 */
	const prepareJwt = async (stale: unknown): Promise<(() => void) | undefined> => {
		for (;;) {
			if (run.refused) throw run.refused;
			if (run.renewal === undefined) break;
			await run.renewal;
		}
		const expired = stale !== undefined ? credentials.expirable === stale : jwtNeedsRenewal(credentials.expirable, Date.now());
		if (!expired && credentials.expirable !== '') return undefined;
		credentials.expirable = '';
		let end!: () => void;
		run.renewal = new Promise<void>((resolve) => (end = resolve));
		return () => {
			run.renewal = undefined;
			end();
		};
	};

	// Every answer teaches the run's adaptive limit (helpers/concurrency.ts): its time, or a refusal.
	const limit = runLimitIfAny(this);
	/** One attempt: the answer to return, or what went wrong. */
	const attempt = async (): Promise<CopernicaResponse | { fault: Fault; text: FailureText; sentWith?: unknown }> => {
		let response: IN8nHttpFullResponse;
		let endRenewal: (() => void) | undefined;
		try {
			if (version === 'v4') endRenewal = await prepareJwt(staleJwt);
		} catch (refused) {
			return { fault: { statusCode: 401 }, text: refused as ExchangeFailure };
		}
		// The JWT this call goes with: read before sending, since another call may renew meanwhile
		// (empty: this call renews, and goes with what n8n puts there).
		const jwtBefore = credentials.expirable;
		const sentAt = Date.now();
		limit?.sent();
		try {
			response = (await this.helpers.httpRequestWithAuthentication.call(this, CREDENTIAL_TYPE, {
				method: request.method,
				url: `${baseUrl}${versionedPath(request.path, version)}`,
				body: request.body,
				json: request.body !== undefined,
				encoding: request.encoding ?? 'text',
				headers: { Accept: 'application/json' },
				returnFullResponse: true,
				ignoreHttpStatusErrors: true,
				timeout: timeoutSeconds(this, itemIndex) * 1000,
			}, { credentialsDecrypted })) as IN8nHttpFullResponse;
		} catch (error) {
			limit?.failed();
			const exchange = takeExchangeFailure(credentials);
			if (exchange) {
				if (exchange.refused) run.refused = exchange;
				// The call itself was never sent: a failed exchange that may pass is tried again like a refused connection.
				return { fault: exchange.refused ? { statusCode: 401 } : { connectionCode: 'ECONNREFUSED' }, text: exchange };
			}
			const connectionCode = connectionErrorCode(error);
			return { fault: { connectionCode }, text: describeConnectionFailure(connectionCode, hostOf(baseUrl)) };
		} finally {
			endRenewal?.();
		}
		const sentWith = jwtBefore === '' ? credentials.expirable : jwtBefore;
		const { statusCode } = response;
		if (statusCode === 429 || statusCode === 503) limit?.refused();
		else limit?.answered(Date.now() - sentAt);
		if (statusCode < 400 || request.acceptStatuses?.includes(statusCode)) {
			return { statusCode, headers: response.headers as Record<string, unknown>, body: response.body };
		}
		// Read (and so release) the failed answer, also when the call is tried again.
		const body = await readErrorBody(response.body);
		if (request.acceptError?.(body)) return { statusCode, headers: response.headers as Record<string, unknown>, body };
		const header = response.headers['retry-after'];
		const retryAfter = header === undefined ? undefined : String(header);
		return { fault: { statusCode, retryAfter }, text: describeHttpFailure(statusCode, body, retryAfter), sentWith };
	};

	const retries = retryCount(this.getNodeParameter('options.retries', itemIndex, DEFAULT_RETRIES));
	const cancelSignal = this.getExecutionCancelSignal?.();
	// API v4: a 401 means the JWT ran out (or was revoked) before its `exp`; it is renewed and the
	// call sent again, once per call (a 401 is an answer before anything was done, also for a create).
	let staleJwt: unknown;
	for (let tries = 1; ; tries++) {
		let outcome = await attempt();
		if ('fault' in outcome && version === 'v4' && staleJwt === undefined && 'statusCode' in outcome.fault && outcome.fault.statusCode === 401 && outcome.sentWith !== undefined) {
			staleJwt = outcome.sentWith;
			outcome = await attempt();
		}
		if (!('fault' in outcome)) return outcome;
		const { fault, text } = outcome;
		const delay = tries <= retries && isRetryable(request.method, fault) ? retryDelayMs(tries, fault) : undefined;
		if (delay === undefined || cancelSignal?.aborted) {
			throw fail(finalText(text, fault, request.method, tries), 'statusCode' in fault ? String(fault.statusCode) : undefined);
		}
		// Only the status or error code: a URL (and so the token) never reaches the log.
		const what = 'statusCode' in fault ? `HTTP ${fault.statusCode}` : (fault.connectionCode ?? 'no answer');
		this.logger.debug(`Copernica: ${request.method} failed (${what}); retry ${tries} of ${retries} in ${delay} ms`);
		// A cancelled execution stops waiting (and calling Copernica) at once.
		await sleepUnlessCancelled(delay, cancelSignal);
		if (cancelSignal?.aborted) {
			throw fail(finalText(text, fault, request.method, tries), 'statusCode' in fault ? String(fault.statusCode) : undefined);
		}
	}
}

/** The failure as the user sees it, with what the retries did and, for a lost create, what to check. */
function finalText(text: FailureText, fault: Fault, method: IHttpRequestMethods, attempts: number): FailureText {
	if (outcomeUnknown(method, fault)) {
		return {
			message: `${text.message}. The data request may or may not have been created`,
			description: addSentence(
				text.description,
				'The call reached Copernica, or may have, before the answer was lost, so it was not tried again: a second try could create a duplicate data request. Check in Copernica whether the data request exists before running this item again.',
			),
		};
	}
	let { description } = text;
	const askedMs = 'statusCode' in fault ? (parseRetryAfterMs(fault.retryAfter) ?? 0) : 0;
	if (askedMs > MAX_RETRY_AFTER_MS) {
		description = addSentence(
			description,
			`Copernica asked to wait ${Math.ceil(askedMs / 1000)} s before trying again, longer than the node waits (${MAX_RETRY_AFTER_MS / 1000} s): run the item again later.`,
		);
	}
	if (attempts > 1) description = addSentence(description, `Tried ${attempts} times.`);
	return { message: text.message, description };
}

function addSentence(text: string, sentence: string): string {
	return `${text}${/[.!?]$/.test(text) ? '' : '.'} ${sentence}`;
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

function hostnameOf(baseUrl: string): string {
	try {
		return new URL(baseUrl).hostname;
	} catch {
		return '';
	}
}

function hostOf(baseUrl: string): string {
	try {
		return new URL(baseUrl).host;
	} catch {
		return 'the configured base URL';
	}
}
