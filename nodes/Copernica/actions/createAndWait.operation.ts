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

import { digestMatches, secretMatches } from '../intake/authenticity';
import { readReportBody } from '../intake/reportBody';
import { DataFileScanner, isFileOf, summarizeDataFile } from '../helpers/dataFile';
import { RESUME_CHECK_PARAMETER, resumeCheck, withQueryParameter } from '../helpers/resumeUrl';
import { validateReport } from '../helpers/validation';
import { CREDENTIAL_TYPE } from '../transport';
import { createDataRequest, subjectFor, type SubjectType } from './create.operation';

export const OPERATION = 'createAndWait';

export const description: INodeProperties[] = [
	{
		displayName:
			'Copernica posts the file to this execution\'s resume URL, so n8n must be reachable from the internet at its public URL (the WEBHOOK_URL setting). The execution waits without using a worker, also across restarts; if no file arrives within the maximum wait (see Options), it continues with status "pending" and the request ID, for a Get to finish the job.',
		name: 'createAndWaitNotice',
		type: 'notice',
		default: '',
		displayOptions: { show: { operation: [OPERATION] } },
	},
];
export const DEFAULT_MAX_WAIT_HOURS = 24;
const MAX_BODY_BYTES = 256 * 1024 * 1024;
const SUBJECT_TYPES: SubjectType[] = ['email', 'profile', 'subprofile'];

/** The item stored while the execution waits: what comes out at the maximum wait. */
interface PendingRequest extends IDataObject {
	id: string;
	subjectType: SubjectType;
	subject: string;
	requestedAt: string;
	dueBy: string;
	status: 'pending';
	waitingUntil: string;
}

type RawRequest = {
	body?: unknown;
	rawBody?: Buffer;
	readRawBody?: () => Promise<void>;
	headers: Record<string, string | string[] | undefined>;
	query: Record<string, unknown>;
};

/** The key of the check value: the Copernica token, which only this credential's owner has. */
async function checkKey(context: IExecuteFunctions | IWebhookFunctions, itemIndex?: number): Promise<string> {
	const credentials = await context.getCredentials(CREDENTIAL_TYPE, itemIndex);
	return String(credentials.accessToken ?? '');
}

const checkParts = (context: IExecuteFunctions | IWebhookFunctions, subjectType: string, subject: string) => [
	context.getExecutionId(),
	context.getNode().id,
	subjectType,
	subject,
];

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
	const check = resumeCheck(await checkKey(this, itemIndex), checkParts(this, subject.subjectType, subject.subject));
	// n8n 2.x's resume URL carries its own ?signature=...: the check is added after it, untouched.
	const report = validateReport(withQueryParameter(resumeUrl, RESUME_CHECK_PARAMETER, check));

	// The report URL stays out of the output: it opens this execution.
	const { id, subjectType, requestedAt, dueBy } = await createDataRequest.call(this, itemIndex, subject, report);
	const waitTill = waitTillOf(this, itemIndex);
	const pending: PendingRequest = {
		id,
		subjectType,
		subject: subject.subject,
		requestedAt,
		dueBy,
		status: 'pending',
		waitingUntil: waitTill.toISOString(),
	};
	// What n8n passes through at the maximum wait, and what webhook() reads back: see above.
	this.getExecuteData().data.main[0] = [{ json: { ...pending }, pairedItem: { item: itemIndex } }];
	await this.putExecutionToWait(waitTill);
	return { json: { ...pending }, pairedItem: { item: itemIndex } };
}

/** The request this waiting execution created, from the item execute() stored. */
function waitingFor(context: IWebhookFunctions): PendingRequest | undefined {
	const stored = context.evaluateExpression('{{ $json }}', 0) as IDataObject | undefined;
	if (!stored || typeof stored !== 'object') return undefined;
	const { id, subjectType, subject } = stored;
	const text = (value: unknown) => typeof value === 'string' && value !== '';
	if (!text(id) || !text(subject) || !SUBJECT_TYPES.includes(subjectType as SubjectType)) return undefined;
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
		return refuse(this, 500, `The file could not be taken in: ${(error as Error).message}`);
	}
}

/** Answers the caller with an error; no workflow data, so the execution keeps waiting. */
function refuse(context: IWebhookFunctions, status: number, reason: string): IWebhookResponseData {
	const response = context.getResponseObject();
	if (!response.headersSent) response.status(status).json({ error: reason });
	return { noWebhookResponse: true };
}

async function receive(this: IWebhookFunctions): Promise<IWebhookResponseData> {
	const request = this.getRequestObject() as unknown as RawRequest;
	const waiting = this.getNodeParameter('operation', '') === OPERATION ? waitingFor(this) : undefined;
	if (waiting === undefined) return refuse(this, 404, 'This execution is not waiting for a Copernica data request file');

	const expected = resumeCheck(await checkKey(this), checkParts(this, waiting.subjectType, waiting.subject));
	if (!secretMatches(request.query[RESUME_CHECK_PARAMETER], expected)) {
		return refuse(this, 401, `Missing or wrong ${RESUME_CHECK_PARAMETER}`);
	}

	const declaredLength = Number(request.headers['content-length']);
	if (declaredLength > MAX_BODY_BYTES) return refuse(this, 413, 'The body is larger than 256 MB');
	if (request.rawBody === undefined && typeof request.readRawBody === 'function') await request.readRawBody();
	const rawBody = request.rawBody;
	const contentLength = rawBody?.length ?? (Number.isFinite(declaredLength) ? declaredLength : 0);
	if (rawBody !== undefined) {
		const digestHeader = request.headers.digest;
		const digestOk = digestMatches(Array.isArray(digestHeader) ? digestHeader[0] : digestHeader, rawBody);
		if (digestOk === false) return refuse(this, 401, 'The Digest header does not match the body');
	}

	const report = readReportBody(request.body, rawBody);
	if ('problem' in report) return refuse(this, 400, `Not a data request file: ${report.problem}`);
	if (!isFileOf(report.file.info, waiting.subjectType, waiting.subject)) {
		// Not the person asked for: say so without echoing anyone's data.
		return refuse(this, 400, 'This data request file is for another data subject than the one this execution waits for');
	}

	const { status: _pending, waitingUntil: _until, ...requested } = waiting;
	const found = {
		...requested,
		status: 'available',
		info: { ...report.file.info },
		receivedAt: new Date().toISOString(),
		contentLength,
	};
	let item: INodeExecutionData;
	if (this.getNodeParameter('returnAs', 'json') === 'binary') {
		const bytes = report.bytes;
		const scanner = new DataFileScanner();
		scanner.write(bytes);
		const binaryPropertyName = (this.getNodeParameter('binaryPropertyName', 'data') as string) || 'data';
		item = {
			json: { ...found, summary: scanner.result().summary },
			binary: { [binaryPropertyName]: await this.helpers.prepareBinaryData(bytes, 'data.json', 'application/json') },
			pairedItem: { item: 0 },
		};
	} else {
		item = {
			json: {
				...found,
				data: report.file.data as IDataObject[],
				summary: summarizeDataFile(report.file, contentLength),
			},
			pairedItem: { item: 0 },
		};
	}
	return { workflowData: [[item]], webhookResponse: { received: true } };
}
