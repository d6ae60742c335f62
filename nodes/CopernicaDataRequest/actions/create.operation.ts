import type { IExecuteFunctions, INodeExecutionData, INodeProperties, JsonObject } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { addOneMonth } from '../helpers/dates';
import { extractRequestId } from '../helpers/requestId';
import { validateEmail, validateNumericId, validateReport } from '../helpers/validation';
import { copernicaApiRequest } from '../transport';

type SubjectType = 'email' | 'profile' | 'subprofile';

const showFor = (subjectType: SubjectType) => ({
	show: { operation: ['create'], subjectType: [subjectType] },
});

export const description: INodeProperties[] = [
	{
		displayName: 'Subject Type',
		name: 'subjectType',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { operation: ['create'] } },
		options: [
			{
				name: 'Email Address',
				value: 'email',
				description: 'Everything Copernica holds for an email address: messages sent, opens, clicks, surveys',
			},
			{ name: 'Profile', value: 'profile', description: 'Everything Copernica holds for one profile ID' },
			{ name: 'Subprofile', value: 'subprofile', description: 'Everything Copernica holds for one subprofile ID' },
		],
		default: 'email',
		description: 'Who the data subject is, as Copernica knows them',
	},
	{
		displayName: 'Email',
		name: 'email',
		type: 'string',
		placeholder: 'name@email.com',
		default: '',
		required: true,
		displayOptions: showFor('email'),
		description: 'The data subject\'s email address, exactly as it is stored in Copernica',
	},
	{
		displayName: 'Profile ID',
		name: 'profileId',
		type: 'string',
		default: '',
		required: true,
		displayOptions: showFor('profile'),
		description: 'The numeric ID of the profile in Copernica',
	},
	{
		displayName: 'Subprofile ID',
		name: 'subprofileId',
		type: 'string',
		default: '',
		required: true,
		displayOptions: showFor('subprofile'),
		description: 'The numeric ID of the subprofile in Copernica',
	},
	{
		displayName: 'Report',
		name: 'report',
		type: 'string',
		default: '',
		placeholder: 'https://n8n.example.com/webhook/... or privacy@example.com',
		displayOptions: { show: { operation: ['create'] } },
		description:
			'Where Copernica delivers the file when it is ready. A web address (such as the production URL of a Copernica Data Request Trigger) receives it as an HTTP POST; an email address receives it by mail. Leave empty to fetch the file later with the Get operation.',
	},
];

function subjectOf(this: IExecuteFunctions, subjectType: SubjectType, itemIndex: number): string {
	switch (subjectType) {
		case 'email':
			return validateEmail(this.getNodeParameter('email', itemIndex));
		case 'profile':
			return validateNumericId(this.getNodeParameter('profileId', itemIndex), 'The profile ID');
		case 'subprofile':
			return validateNumericId(this.getNodeParameter('subprofileId', itemIndex), 'The subprofile ID');
	}
}

/** The API path that creates a data request; the email goes into the path percent-encoded. */
export function createPath(subjectType: SubjectType, subject: string): string {
	return `/v3/${subjectType}/${encodeURIComponent(subject)}/datarequest`;
}

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData> {
	const subjectType = this.getNodeParameter('subjectType', itemIndex) as SubjectType;
	const subject = subjectOf.call(this, subjectType, itemIndex);
	const report = validateReport(this.getNodeParameter('report', itemIndex, ''));

	const requestedAt = new Date();
	const response = await copernicaApiRequest.call(
		this,
		{ method: 'POST', path: createPath(subjectType, subject), body: report ? { report } : undefined },
		itemIndex,
	);
	const id = extractRequestId(response);
	if (id === undefined) {
		const message = 'Copernica accepted the data request but did not say its ID';
		const description =
			'The answer had no X-Created, X-Location or Location header and no ID in its body, so the request cannot be followed up. Check in Copernica whether it was created before trying again.';
		throw new NodeApiError(this.getNode(), { message, description } as JsonObject, {
			message,
			description,
			itemIndex,
		});
	}
	return {
		json: {
			id,
			subjectType,
			subject,
			report: report ?? null,
			requestedAt: requestedAt.toISOString(),
			dueBy: addOneMonth(requestedAt).toISOString(),
		},
		pairedItem: { item: itemIndex },
	};
}
