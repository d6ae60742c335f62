/**
 * API v4's token exchange: the account's access token for a JWT, at the credential's
 * Authentication URL. n8n calls it through the credential's `preAuthentication` when the stored
 * JWT is empty (the transport empties it when the JWT is about to run out or a call answered 401)
 * and stores the result, encrypted, with the credential.
 *
 * The POST form is the documented call (form body `access_token=...`: the token is in no URL);
 * the GET form (`?access_token=...`) that one version of Copernica's pages shows is tried only
 * when the POST is refused as a method (405). A failure never carries the token: the HTTP
 * client's error (which holds the request) is replaced by words of our own.
 */
import type { ICredentialDataDecryptedObject, IHttpRequestHelper, IHttpRequestOptions, IN8nHttpFullResponse } from 'n8n-workflow';

import { DEFAULT_AUTHENTICATION_URL } from '../helpers/baseUrl';
import { describeConnectionFailure, describeHttpFailure, type FailureText } from '../helpers/failure';
import { jwtFromExchangeAnswer } from '../helpers/jwt';
import { redactSecrets } from '../helpers/redact';
import { isLoopbackHost, UNENCRYPTED_HINT } from '../helpers/validation';

export interface ExchangeFailure extends FailureText {
	/** Copernica answered and refused the token (4xx): trying again in the same run cannot help. */
	refused: boolean;
}

export function authenticationUrlOf(credentials: ICredentialDataDecryptedObject): string {
	return String(credentials.authenticationUrl ?? '').trim().replace(/\/+$/, '') || DEFAULT_AUTHENTICATION_URL;
}

/**
 * The last failed exchange, by the credential data it was made for. n8n rewraps what
 * preAuthentication throws (dropping its cause), but hands it the very data object the transport
 * gave to the request helper, so the transport finds the failure here and shows its words.
 */
const failures = new WeakMap<object, ExchangeFailure>();

export function takeExchangeFailure(credentials: object): ExchangeFailure | undefined {
	const failure = failures.get(credentials);
	failures.delete(credentials);
	return failure;
}

export async function exchangeAccessToken(
	helpers: IHttpRequestHelper['helpers'],
	credentials: ICredentialDataDecryptedObject,
): Promise<string> {
	const url = authenticationUrlOf(credentials);
	const token = String(credentials.accessToken ?? '');
	// The thrown error is what the credential Test shows (its message only): the hint goes into it.
	const exchangeError = (failure: ExchangeFailure, hint?: string): Error => {
		failures.set(credentials, failure);
		return Object.assign(new Error(hint ? `${failure.message}. ${hint}` : failure.message), { description: failure.description });
	};
	let parsed: URL;
	try {
		parsed = new URL(url);
	} catch {
		throw exchangeError({ refused: true, message: `The credential's Authentication URL is not a web address`, description: 'Keep the default, https://authenticate.copernica.com.' });
	}
	if (parsed.protocol === 'http:' && credentials.allowUnencryptedHttp !== true && !isLoopbackHost(parsed.hostname)) {
		throw exchangeError({
			refused: true,
			message: `The credential's Authentication URL ${url} uses http://`,
			description: `Nothing was sent: the access token and ${UNENCRYPTED_HINT}.`,
		});
	}
	const send = async (options: IHttpRequestOptions): Promise<IN8nHttpFullResponse> => {
		try {
			return (await helpers.httpRequest({
				...options,
				headers: { Accept: 'application/json, text/plain', ...options.headers },
				json: false,
				encoding: 'text',
				returnFullResponse: true,
				ignoreHttpStatusErrors: true,
				timeout: 60_000,
			})) as IN8nHttpFullResponse;
		} catch (error) {
			const code = (error as { code?: unknown }).code;
			const text = describeConnectionFailure(typeof code === 'string' ? code : undefined, parsed.host);
			throw exchangeError({
				refused: false,
				message: text.message.replace('Could not reach Copernica', 'Could not reach Copernica\'s authentication'),
				description: `The API v4 token exchange got no answer. Check the Authentication URL in the Copernica API credential and that ${parsed.host} is reachable from n8n.`,
			});
		}
	};

	let answer = await send({
		method: 'POST',
		url,
		body: `access_token=${encodeURIComponent(token)}`,
		headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
	});
	if (answer.statusCode === 405) {
		answer = await send({ method: 'GET', url: `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}` });
	}
	const body = typeof answer.body === 'string' ? answer.body : answer.body === undefined ? '' : JSON.stringify(answer.body);
	if (answer.statusCode >= 400) {
		const text = describeHttpFailure(answer.statusCode, redactSecrets(body, [token]));
		const refused = answer.statusCode < 500 && answer.statusCode !== 429;
		throw exchangeError(
			{
				refused,
				message: `Copernica refused the access token for API v4: ${text.message}`,
				description: `${text.description}. The token exchange at ${url} failed. If the token is restricted to REST API v3 in Copernica (Configuration, API access tokens), set API Version to v3 in the credential; otherwise copy the token again.`,
			},
			refused ? 'If the token is restricted to REST API v3 in Copernica, set API Version to v3' : undefined,
		);
	}
	const jwt = jwtFromExchangeAnswer(body);
	if (jwt === undefined) {
		throw exchangeError({
			refused: true,
			message: 'Copernica\'s token exchange answered without a token',
			description: `${url} answered HTTP ${answer.statusCode} with no JWT in its body. Check the Authentication URL in the Copernica API credential.`,
		});
	}
	return jwt;
}
