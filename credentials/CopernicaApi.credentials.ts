import type {
	IAuthenticate,
	ICredentialTestRequest,
	ICredentialType,
	Icon,
	INodeProperties,
} from 'n8n-workflow';

import { DEFAULT_BASE_URL, normalizeBaseUrl } from '../nodes/Copernica/helpers/baseUrl';

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
			displayName: 'Allow Unencrypted HTTP',
			name: 'allowUnencryptedHttp',
			type: 'boolean',
			default: false,
			description:
				'Whether http:// addresses other than this machine (localhost) may be used, for the Base URL and for report web addresses. Off, the access token and personal data travel over TLS only.',
		},
	];

	// The v3 API takes the token as a query parameter; the node redacts it from every error.
	// A function, not the generic `{ qs: { access_token: '={{ $credentials.accessToken }}' } }`:
	// n8n evaluates a generic one as an expression on every call (in 2.x inside isolated-vm),
	// which cost about 1.3 ms per call, a third of the node's CPU time per created data request
	// (bench/RESULTS.md).
	// The Test below sends the Base URL as typed; it is normalised here, by the nodes' own function.
	authenticate: IAuthenticate = async (credentials, requestOptions) => ({
		...requestOptions,
		...(requestOptions.baseURL !== undefined ? { baseURL: normalizeBaseUrl(requestOptions.baseURL) } : {}),
		qs: { ...(requestOptions.qs ?? {}), access_token: credentials.accessToken as string },
	});

	// n8n reports a failed test by HTTP status text only ("Bad Request"), so the answer is read
	// as it is and the rules below turn Copernica's own words into the test's message.
	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ $credentials.baseUrl }}',
			url: '/v3/identity',
			ignoreHttpStatusErrors: true,
		},
		rules: [
			{
				type: 'responseSuccessBody',
				properties: {
					key: 'error.message',
					value: 'Invalid access token',
					message: 'Copernica says: Invalid access token. Copy the token again from Copernica (Configuration, API access tokens).',
				},
			},
			{
				type: 'responseSuccessBody',
				properties: {
					key: 'id',
					value: undefined,
					message:
						'The Base URL did not answer as Copernica\'s REST API (GET /v3/identity gave no account identity). Check the Base URL.',
				},
			},
		],
	};
}
