/**
 * Create and Wait: creates the data request with this execution's resume URL as the report target
 * and puts the execution to wait, the way n8n's Wait node and send-and-wait operations do. The
 * execution is stored and uses no worker while Copernica assembles the file; when Copernica posts
 * the file to the resume URL, n8n calls webhook() below, and its item becomes this node's output.
 *
 * At the maximum wait n8n resumes the execution without calling webhook(): it passes the node's
 * stored input through unchanged (n8n 1.x and 2.x alike). So execute() stores, as that input, the
 * item it wants to come out then: the created request with status "pending", which a Get can take
 * over. webhook() reads the same item back to know which request and subject it waits for.
 */
import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeProperties,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { isFileOf } from '../helpers/dataFile';
import { binaryPropertyOf, DEFAULT_RETURN_AS, fileNameFor, type ReturnAs } from '../helpers/fileParameters';
import { fileItem, isRefusal, receiveReport, refuse } from '../intake';
import { newResumeCheck, RESUME_CHECK_PARAMETER, resumeCheckMatches, withQueryParameter } from '../helpers/resumeUrl';
import { validateReport } from '../helpers/validation';
import { allowsUnencryptedHttp } from '../transport';
import { requestSetOf } from '../helpers/requestSet';
import { createDataRequest, receivedAtOf, subjectFor, type SubjectChoice } from './create.operation';
import { bundleItem, checkSet, createPersonSet, executeContextOf, partStatuses, type SetPart } from './person';

export const OPERATION = 'createAndWait';

export const description: INodeProperties[] = [
	{
		displayName:
			'This execution pauses until Copernica has assembled the file, then goes on with it: minutes to hours, without using a worker, also across restarts. If no file arrives in time (Options), it goes on with status "pending" and the request ID, for a Get to finish the job. Technical detail: Copernica posts the file to this execution\'s resume URL, so n8n must be reachable from the internet at its public URL (the WEBHOOK_URL setting).',
		name: 'createAndWaitNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { operation: [OPERATION] } },
	},
];
export const DEFAULT_MAX_WAIT_HOURS = 24;
const SUBJECT_TYPES: SubjectChoice[] = ['email', 'profile', 'subprofile', 'person'];

/** The item stored while the execution waits: what comes out at the maximum wait. */
interface PendingRequest extends IDataObject {
	id: string;
	subjectType: SubjectChoice;
	subject: string;
	/** Subject Type "Person": the set's data requests (each posts its own file here). */
	requests?: IDataObject[];
	requestedAt: string;
	requestReceivedAt: string;
	dueBy: string;
	extendedDueBy: string;
	status: 'pending';
	waitingUntil: string;
	/** SHA-256 of the resume URL's check value (kept only in the stored item, not in the output). */
	resumeCheckSha256?: string;
}

/** The "Maximum Wait (Hours)" option as the moment n8n resumes the execution without a file. */
function waitTillOf(context: IExecuteFunctions, itemIndex: number): Date {
	const hours = Number(context.getNodeParameter('options.maxWaitHours', itemIndex, DEFAULT_MAX_WAIT_HOURS));
	const usable = Number.isFinite(hours) && hours > 0 ? hours : DEFAULT_MAX_WAIT_HOURS;
	return new Date(Date.now() + usable * 3_600_000);
}

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData> {
	// One execution has one resume URL and resumes once: it can wait for one file only.
	const count = this.getInputData().length;
	if (count > 1) {
		throw new NodeOperationError(this.getNode(), `Create and Wait waits for one file per execution, and got ${count} items`, {
			itemIndex,
			description:
				'Nothing was created. Give this node one item per execution (for example with Loop Over Items and an Execute Workflow node, or the node setting "Execute Once"), or use Create for many people and a Copernica Data Request Trigger to receive their files.',
		});
	}
	const subject = subjectFor.call(this, itemIndex);
	const resumeUrl = String(this.evaluateExpression('{{ $execution.resumeUrl }}', itemIndex) ?? '');
	const check = newResumeCheck();
	// n8n 2.x's resume URL carries its own ?signature=...: the check is added after it, untouched.
	const report = validateReport(
		withQueryParameter(resumeUrl, RESUME_CHECK_PARAMETER, check.value),
		await allowsUnencryptedHttp(this, itemIndex),
	);

	// The report URL stays out of the output: it opens this execution.
	const receivedAt = receivedAtOf.call(this, itemIndex);
	const waitTill = waitTillOf(this, itemIndex);
	let pending: PendingRequest;
	if (subject.subjectType === 'person') {
		// Every part posts its file to this resume URL (with set and part added); each post is a wake-up.
		const { report: _report, ...set } = await createPersonSet.call(this, itemIndex, subject.subject, report, receivedAt);
		if (set.requests.length === 0) {
			// Nothing to wait for: the answer is the empty bundle, now.
			const empty = { key: '', ids: [], email: subject.subject };
			const item = await bundleItem.call(this, itemIndex, empty, { status: 'available', parts: [] }, fileOutputOf(this, itemIndex, set));
			return { ...item, pairedItem: { item: itemIndex } };
		}
		pending = { ...set, status: 'pending', waitingUntil: waitTill.toISOString() };
	} else {
		const single = { subjectType: subject.subjectType, subject: subject.subject };
		const created = await createDataRequest.call(this, itemIndex, single, report, receivedAt);
		const { id, subjectType, requestedAt, requestReceivedAt, dueBy, extendedDueBy } = created;
		pending = {
			id,
			subjectType,
			subject: subject.subject,
			requestedAt,
			requestReceivedAt,
			dueBy,
			extendedDueBy,
			status: 'pending',
			waitingUntil: waitTill.toISOString(),
		};
	}
	// What n8n passes through at the maximum wait, and what webhook() reads back: see above. It
	// holds the check value's hash only (helpers/resumeUrl.ts).
	const stored: PendingRequest = { ...pending, resumeCheckSha256: check.sha256 };
	this.getExecuteData().data.main[0] = [{ json: stored, pairedItem: { item: itemIndex } }];
	await this.putExecutionToWait(waitTill);
	return { json: { ...pending }, pairedItem: { item: itemIndex } };
}

/** The request this waiting execution created, from the item execute() stored. */
function waitingFor(context: IWebhookFunctions): PendingRequest | undefined {
	const stored = context.evaluateExpression('{{ $json }}', 0) as IDataObject | undefined;
	if (!stored || typeof stored !== 'object') return undefined;
	const { id, subjectType, subject } = stored;
	const text = (value: unknown) => typeof value === 'string' && value !== '';
	if (!text(id) || !text(subject) || !SUBJECT_TYPES.includes(subjectType as SubjectChoice)) return undefined;
	return stored as unknown as PendingRequest;
}

/**
 * Copernica's report POST to the resume URL. Anything that is not this request's file is answered
 * with an error and no workflow data, which leaves the execution waiting (n8n resumes it only when
 * webhook() returns workflow data).
 */
export async function webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	try {
		return await receive.call(this);
	} catch (error) {
		// n8n would end the waiting execution with this error: answer instead, and keep waiting.
		return refuse(this, { status: 500, reason: `The file could not be taken in: ${(error as Error).message}` });
	}
}

async function receive(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const waiting = this.getNodeParameter('operation', '') === OPERATION ? waitingFor(this) : undefined;
	if (waiting === undefined) {
		return refuse(this, { status: 404, reason: 'This execution is not waiting for a Copernica data request file' });
	}
	const returnAs = this.getNodeParameter('returnAs', DEFAULT_RETURN_AS) as ReturnAs;
	const received = await receiveReport.call(this, {
		authenticate: (query) =>
			resumeCheckMatches(query[RESUME_CHECK_PARAMETER], waiting.resumeCheckSha256)
				? undefined
				: `Missing or wrong ${RESUME_CHECK_PARAMETER}`,
		returnAs,
		fileName: fileNameFor(waiting.id),
	});
	if (isRefusal(received)) return refuse(this, received);
	if (waiting.subjectType === 'person') return await receivePart.call(this, waiting, received.info);
	if (!isFileOf(received.info, waiting.subjectType, waiting.subject)) {
		// Not the person asked for: say so without echoing anyone's data.
		return refuse(this, {
			status: 400,
			reason: 'This data request file is for another data subject than the one this execution waits for',
		});
	}

	const { status: _pending, waitingUntil: _until, resumeCheckSha256: _check, ...requested } = waiting;
	const item = fileItem(received, binaryPropertyOf(this.getNodeParameter('binaryPropertyName', '')), {
		...requested,
		status: 'available',
		receivedAt: new Date().toISOString(),
	});
	return { workflowData: [[{ ...item, pairedItem: { item: 0 } }]], webhookResponse: { received: true } };
}

/** Where a file goes in the output item, for Create and Wait in either context. */
function fileOutputOf(context: IExecuteFunctions | IWebhookFunctions, itemIndex: number, json: IDataObject) {
	const parameter = (name: string, fallback: string) =>
		'getInputData' in context
			? (context as IExecuteFunctions).getNodeParameter(name, itemIndex, fallback)
			: (context as IWebhookFunctions).getNodeParameter(name, fallback);
	return {
		returnAs: parameter('returnAs', DEFAULT_RETURN_AS) as ReturnAs,
		binaryPropertyName: binaryPropertyOf(parameter('binaryPropertyName', '')),
		json,
	};
}

/**
 * A part of a person's set has been posted: a wake-up. Copernica's API (not what n8n remembers of
 * earlier posts) says whether every part is ready; until then the post is answered 200 and the
 * execution keeps waiting (no workflow data). Then the execution goes on with the bundle.
 */
async function receivePart(this: IWebhookFunctions, waiting: PendingRequest, info: { type: string; id: string | number }): Promise<IWebhookResponseData> {
	const parts = (waiting.requests ?? []) as unknown as SetPart[];
	if (!parts.some((part) => isFileOf(info, part.subjectType, part.subject))) {
		return refuse(this, { status: 400, reason: 'This data request file is not one of the files this execution waits for' });
	}
	const set = requestSetOf(waiting.id);
	if (set === undefined) return refuse(this, { status: 500, reason: 'The waiting item does not name its set' });
	const { status: _pending, waitingUntil: _until, resumeCheckSha256: _check, ...requested } = waiting;
	const json: IDataObject = { ...requested, receivedAt: new Date().toISOString() };
	const context = executeContextOf(this);
	let item: INodeExecutionData;
	try {
		const checked = await checkSet.call(context, set, 0);
		if (checked.status === 'pending') {
			const available = checked.parts.filter((part) => part.status === 'available').length;
			return { webhookResponse: { received: true, complete: false, available, parts: checked.parts.length } };
		}
		item =
			checked.status === 'available'
				? await bundleItem.call(context, 0, set, checked, fileOutputOf(this, 0, json))
				: { json: { ...json, status: checked.status, parts: partStatuses(checked) } };
	} catch (error) {
		// The set cannot be checked (the credential deleted, Copernica refusing): the execution goes on
		// and says why, instead of answering every later post 500 while it waits to its maximum.
		item = { json: { ...json, status: 'error', error: (error as Error).message } };
	}
	return { workflowData: [[{ ...item, pairedItem: { item: 0 } }]], webhookResponse: { received: true, complete: true } };
}
