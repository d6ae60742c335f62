import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties, JsonObject } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { gdprDeadlines } from '../helpers/dates';
import { maskReportSecret } from '../helpers/redact';
import { extractRequestId } from '../helpers/requestId';
import { InvalidInputError, validateEmail, validateNumericId, validateReport } from '../helpers/validation';
import { copernicaApiRequest, readErrorBody } from '../transport';
import { createPersonSet } from './person';

export type SubjectType = 'email' | 'profile' | 'subprofile';
/** What Subject Type may say: one data request, or "person", a set of them (actions/person.ts). */
export type SubjectChoice = SubjectType | 'person';

// Create and Wait asks for the same subject; only the report target is its own.
const SUBJECT_OPERATIONS = ['create', 'createAndWait'];
const SUBJECT_TYPES: SubjectChoice[] = ['email', 'profile', 'subprofile', 'person'];

export const description: INodeProperties[] = [
	{
		displayName: 'Subject Type',
		name: 'subjectType',
		type: 'options',
		displayOptions: { show: { operation: SUBJECT_OPERATIONS } },
		options: [
			{
				name: 'Email Address',
				value: 'email',
				description: 'Everything Copernica holds for an email address: messages sent, opens, clicks, surveys',
			},
			{
				name: 'Person',
				value: 'person',
				description:
					'Everything Copernica holds on the owner of an email address: finds every profile and subprofile that holds it (as Find Person does) and makes one data request for the address and one for each of them. Get of the returned ID gives one file for all of them.',
			},
			{ name: 'Profile', value: 'profile', description: 'Everything Copernica holds for one profile ID' },
			{ name: 'Subprofile', value: 'subprofile', description: 'Everything Copernica holds for one subprofile ID' },
		],
		default: 'email',
		description:
			'Who the data subject is, as Copernica knows them. For a list that mixes email addresses and IDs, set it per item with an expression that gives email, person, profile or subprofile.',
	},
	{
		displayName: 'Data Subject',
		name: 'subject',
		type: 'string',
		placeholder: 'e.g. name@example.com, or a profile ID such as 1234',
		default: '',
		required: true,
		displayOptions: { show: { operation: SUBJECT_OPERATIONS } },
		description:
			'The person the data request is for: their email address exactly as Copernica stores it (Email Address, Person), or the numeric profile or subprofile ID, as Subject Type says',
	},
	{
		displayName: 'Report',
		name: 'report',
		type: 'string',
		default: '',
		placeholder: 'Trigger URL or email address',
		displayOptions: { show: { operation: ['create'] } },
		description:
			'Where Copernica delivers the file when it is ready. A web address (the production URL of a Copernica Data Request Trigger) receives it as an HTTP POST; an email address receives it by mail. Leave empty to fetch the file later with the Get operation. For a Person, every file is posted on its own, with set, part and parts added to the web address so the trigger can tell them apart.',
	},
];

/** The data subject of an item as the parameters give it, checked before any call is made. */
export function subjectFor(this: IExecuteFunctions, itemIndex: number): SubjectChosen {
	const given = this.getNodeParameter('subjectType', itemIndex);
	const subjectType = typeof given === 'string' ? (given.trim().toLowerCase() as SubjectChoice) : given;
	const value = this.getNodeParameter('subject', itemIndex);
	switch (subjectType) {
		case 'email':
		case 'person':
			return { subjectType, subject: validateEmail(value) };
		case 'profile':
			return { subjectType, subject: validateNumericId(value, 'The profile ID') };
		case 'subprofile':
			return { subjectType, subject: validateNumericId(value, 'The subprofile ID') };
		default:
			throw new InvalidInputError(
				`The subject type ${JSON.stringify(given)} is not one of ${SUBJECT_TYPES.join(', ')}`,
			);
	}
}

export interface Subject {
	subjectType: SubjectType;
	subject: string;
}

/** An item's subject as the parameters give it: one data request, or a person (a set). */
export interface SubjectChosen {
	subjectType: SubjectChoice;
	subject: string;
}

/** A create that Copernica answered with a status the caller said it handles (the email call absent). */
export class CreateRefused extends Error {
	constructor(
		readonly statusCode: number,
		readonly text: string,
	) {
		super(`Copernica answered HTTP ${statusCode}`);
	}
}

export interface CreatedRequest extends IDataObject, Subject {
	id: string;
	report: string | null;
	requestedAt: string;
	requestReceivedAt: string;
	dueBy: string;
	extendedDueBy: string;
}

/** The API path that creates a data request; the email goes into the path percent-encoded. */
export function createPath(subjectType: SubjectType, subject: string): string {
	return `/v3/${subjectType}/${encodeURIComponent(subject)}/datarequest`;
}

/** Creates one data request (the report target checked already) and says what was created. */
export async function createDataRequest(
	this: IExecuteFunctions,
	itemIndex: number,
	{ subjectType, subject }: Subject,
	report: string | undefined,
	receivedAt?: Date,
	/** Failed answers the caller handles: thrown as CreateRefused. */
	acceptStatuses: number[] = [],
): Promise<CreatedRequest> {
	const requestedAt = new Date();
	// The deadline runs from when the subject's request reached the company, not from this call.
	const requestReceivedAt = receivedAt ?? requestedAt;
	const response = await copernicaApiRequest.call(
		this,
		{ method: 'POST', path: createPath(subjectType, subject), body: report ? { report } : undefined, acceptStatuses },
		itemIndex,
	);
	if (response.statusCode >= 400) throw new CreateRefused(response.statusCode, await readErrorBody(response.body));
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
		id,
		subjectType,
		subject,
		// The trigger's secret opens its workflow: it stays out of the output and the stored execution.
		report: report === undefined ? null : maskReportSecret(report),
		requestedAt: requestedAt.toISOString(),
		requestReceivedAt: requestReceivedAt.toISOString(),
		...deadlinesOf(requestReceivedAt, this.getTimezone()),
	};
}

export function deadlinesOf(receivedAt: Date, timeZone: string) {
	const { dueBy, extendedDueBy } = gdprDeadlines(receivedAt, timeZone);
	return { dueBy: dueBy.toISOString(), extendedDueBy: extendedDueBy.toISOString() };
}

/** The "Request Received At" option: when the subject's request arrived; undefined means now. */
export function receivedAtOf(this: IExecuteFunctions, itemIndex: number): Date | undefined {
	const value = this.getNodeParameter('options.requestReceivedAt', itemIndex, '') as unknown;
	if (value === undefined || value === null || value === '') return undefined;
	const date = value instanceof Date ? value : new Date(String(value));
	if (Number.isNaN(date.getTime())) {
		throw new InvalidInputError(`Request Received At ${JSON.stringify(String(value))} is not a date and time`);
	}
	if (date.getTime() > Date.now() + 24 * 3_600_000) {
		throw new InvalidInputError(`Request Received At ${date.toISOString()} is in the future`);
	}
	return date;
}

/** What an item asks for, read from its parameters and checked before anything is sent. */
export interface PreparedCreate {
	subject: SubjectChosen;
	report: string | undefined;
	receivedAt: Date | undefined;
}

/** What an item's checks depend on beyond its parameters: the credential's settings. */
export interface PrepareSettings {
	allowHttp: boolean;
}

/** Reads and checks an item's parameters; the router calls it for every item before sending. */
export function prepare(this: IExecuteFunctions, itemIndex: number, settings: PrepareSettings): PreparedCreate {
	return {
		subject: subjectFor.call(this, itemIndex),
		report: validateReport(this.getNodeParameter('report', itemIndex, ''), settings.allowHttp),
		receivedAt: receivedAtOf.call(this, itemIndex),
	};
}

export async function execute(
	this: IExecuteFunctions,
	itemIndex: number,
	prepared: PreparedCreate = prepare.call(this, itemIndex, { allowHttp: false }),
): Promise<INodeExecutionData> {
	const { subject, report, receivedAt } = prepared;
	if (subject.subjectType === 'person') {
		const set = await createPersonSet.call(this, itemIndex, subject.subject, report, receivedAt);
		return { json: set, pairedItem: { item: itemIndex } };
	}
	const single = { subjectType: subject.subjectType, subject: subject.subject };
	return { json: await createDataRequest.call(this, itemIndex, single, report, receivedAt), pairedItem: { item: itemIndex } };
}
