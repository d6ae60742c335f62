import type {
	IAuthenticateGeneric,
	ICredentialTestRequest,
	ICredentialType,
	Icon,
	INodeProperties,
} from 'n8n-workflow';

export class CopernicaApi implements ICredentialType {
	name = 'copernicaApi';

	displayName = 'Copernica API';

	icon: Icon = {
		light: 'file:../nodes/CopernicaDataRequest/copernica.svg',
		dark: 'file:../nodes/CopernicaDataRequest/copernica.dark.svg',
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
			default: 'https://api.copernica.com',
			description:
				'Where the Copernica REST API lives. Keep the default, use https://rest.copernica.com (Copernica recommends it for large downloads), or point it at a local Copernica sandbox for testing.',
		},
	];

	// The v3 API takes the token as a query parameter; the node redacts it from every error.
	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: { qs: { access_token: '={{ $credentials.accessToken }}' } },
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ ($credentials.baseUrl || "https://api.copernica.com").replace(/\\/+$/, "").replace(/\\/v[34]$/i, "") }}',
			url: '/v3/identity',
		},
	};
}
