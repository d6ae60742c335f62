import type {
	IAuthenticate,
	IAuthenticateRuleResponseCode,
	IAuthenticateRuleResponseSuccessBody,
	ICredentialDataDecryptedObject,
	ICredentialTestRequest,
	ICredentialType,
	IHttpRequestHelper,
	Icon,
	IDataObject,
	INodeProperties,
} from 'n8n-workflow';

import {
	apiVersionOf,
	baseUrlVersionConflict,
	DEFAULT_AUTHENTICATION_URL,
	DEFAULT_BASE_URL,
	normalizeBaseUrl,
	versionedPath,
} from '../nodes/Copernica/helpers/baseUrl';
import { exchangeAccessToken } from '../nodes/Copernica/transport/exchange';

export class CopernicaApi implements ICredentialType {
	name = 'copernicaApi';

	displayName = 'Copernica API';

	icon: Icon = {
		light: 'file:../nodes/Copernica/copernica.svg',
		dark: 'file:../nodes/Copernica/copernica.dark.svg',
	};

	documentationUrl = 'https://www.copernica.com/en/documentation/restv3/rest-authentication';

	properties: INodeProperties[] = [
		{
			displayName: 'API Version',
			name: 'apiVersion',
			type: 'options',
			options: [
				{
					name: 'v4 (Token Exchanged for a JWT)',
					value: 'v4',
					description: 'The access token is sent once, in a form body, for a JWT that then travels in a header: it is in no request URL',
				},
				{
					name: 'v3 (Token in Every Request URL)',
					value: 'v3',
					description: 'For tokens restricted to REST API v3 in Copernica',
				},
			],
			default: 'v4',
			description:
				'Which Copernica REST API to call. v4 keeps the access token out of every request URL (and so out of proxy and access logs); choose v3 only for a token restricted to v3.',
		},
		{
			displayName: 'Access Token',
			name: 'accessToken',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'A REST API access token from Copernica: Configuration, then API access tokens',
		},
		{
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: DEFAULT_BASE_URL,
			description:
				'Where the Copernica REST API lives. Keep the default, use https://rest.copernica.com (Copernica recommends it for large downloads), or point it at a local Copernica sandbox for testing.',
		},
		{
			displayName: 'Authentication URL',
			name: 'authenticationUrl',
			type: 'string',
			default: DEFAULT_AUTHENTICATION_URL,
			displayOptions: { show: { apiVersion: ['v4'] } },
			description:
				'Where API v4 exchanges the access token for a JWT (valid 24 hours, kept with this credential and renewed before it runs out). Keep the default unless you test against a local Copernica sandbox.',
		},
		{
			displayName: 'JWT',
			name: 'expirable',
			type: 'hidden',
			typeOptions: { expirable: true },
			default: '',
		},
		{
			displayName: 'Allow Unencrypted HTTP',
			name: 'allowUnencryptedHttp',
			type: 'boolean',
			default: false,
			description:
				'Whether http:// addresses other than this machine (localhost) may be used, for the Base URL, the Authentication URL and for report web addresses. Off, the access token and personal data travel over TLS only.',
		},
	];

	// v4: n8n calls this when the stored JWT (`expirable`) is empty, during a credential Test, and
	// once after a call that threw 401; it stores what comes back with the credential, encrypted.
	// The transport empties `expirable` when the JWT is about to run out (helpers/jwt.ts) or a call
	// answered 401, so that a run exchanges at most once per expiry, not once per item.
	async preAuthentication(this: IHttpRequestHelper, credentials: ICredentialDataDecryptedObject): Promise<IDataObject> {
		if (apiVersionOf(credentials) !== 'v4') return {};
		return { expirable: await exchangeAccessToken(this.helpers, credentials) };
	}

	// v3 takes the token as a query parameter (the node redacts it from every error); v4 takes the
	// JWT as a Bearer header, and the access token travels nowhere but in the exchange.
	// A function, not the generic `{ qs: { access_token: '={{ $credentials.accessToken }}' } }`:
	// n8n evaluates a generic one as an expression on every call (in 2.x inside isolated-vm),
	// which cost about 1.3 ms per call, a third of the node's CPU time per created data request
	// (bench/RESULTS.md).
	// The Test below sends the Base URL as typed and a v3 path; both are settled here, by the
	// nodes' own functions.
	authenticate: IAuthenticate = async (credentials, requestOptions) => {
		const version = apiVersionOf(credentials);
		const settled = { ...requestOptions };
		if (requestOptions.baseURL !== undefined) {
			const conflict = baseUrlVersionConflict(requestOptions.baseURL, version);
			if (conflict !== undefined) throw new Error(conflict);
			settled.baseURL = normalizeBaseUrl(requestOptions.baseURL);
			settled.url = versionedPath(requestOptions.url, version);
		}
		if (version === 'v3') return { ...settled, qs: { ...(requestOptions.qs ?? {}), access_token: credentials.accessToken as string } };
		return { ...settled, headers: { ...(requestOptions.headers ?? {}), Authorization: `Bearer ${String(credentials.expirable ?? '')}` } };
	};

	// v3: n8n reports a failed test by HTTP status text only ("Bad Request"), so the answer is read
	// as it is and the rules below turn Copernica's own words into the test's message.
	// v4: the answer must fail as an HTTP error instead, because n8n renews an expired stored JWT
	// only after a request threw 401 (a Test does not exchange when a JWT is stored); a failed
	// exchange shows the exchange's own words, with Copernica's message.
	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ $credentials.baseUrl }}',
			url: '/v3/identity',
			ignoreHttpStatusErrors: '={{ $credentials.apiVersion === "v3" }}' as unknown as boolean,
		},
		// n8n reads both kinds of rule; its type takes a list of one kind only.
		rules: ([
			{
				type: 'responseCode',
				properties: {
					value: 401,
					message: 'Copernica refused the JWT it had just given for API v4 (HTTP 401). Test again; if it stays so, set API Version to v3.',
				},
			},
			{
				type: 'responseCode',
				properties: {
					value: 404,
					message: 'The Base URL did not answer as Copernica\'s REST API v4 (GET /v4/identity: HTTP 404). Check the Base URL.',
				},
			},
			{
				type: 'responseSuccessBody',
				properties: {
					key: 'error.message',
					value: 'Invalid access token',
					message:
						'Copernica says: Invalid access token. Copy the token again from Copernica (Configuration, API access tokens). If the token is restricted to one REST API version there, set API Version to that one.',
				},
			},
			{
				type: 'responseSuccessBody',
				properties: {
					key: 'id',
					value: undefined,
					message:
						'The Base URL did not answer as Copernica\'s REST API (GET /identity of the chosen API Version gave no account identity). Check the Base URL.',
				},
			},
		] as Array<IAuthenticateRuleResponseCode | IAuthenticateRuleResponseSuccessBody>) as IAuthenticateRuleResponseSuccessBody[],
	};
}
