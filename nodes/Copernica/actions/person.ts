/**
 * Subject Type "Person": everything Copernica holds on the owner of an email address, as one set
 * of data requests (the email request and one per profile and subprofile Find Person finds), and
 * the set read back as one bundle. Used by Create, Create and Wait and Get; the set's id and the
 * bundle's bytes are pure helpers (helpers/requestSet.ts, helpers/bundle.ts).
 */
import type { IBinaryData, IDataObject, IExecuteFunctions, INodeExecutionData, IWebhookFunctions } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { bundleBytes, type BundleInfo, type BundlePartResult } from '../helpers/bundle';
import { parseDataFile } from '../helpers/dataFile';
import { fileNameFor, type ReturnAs } from '../helpers/fileParameters';
import { maskReportSecret } from '../helpers/redact';
import {
	emailCallAbsent,
	newSetKey,
	partReportUrl,
	setIdOf,
	setStatusOf,
	type PartStatus,
	type RequestSet,
} from '../helpers/requestSet';
import { copernicaApiRequest, readErrorBody } from '../transport';
import { createDataRequest, CreateRefused, deadlinesOf, type CreatedRequest, type Subject } from './create.operation';
import * as findPerson from './findPerson.operation';
import { check, downloadText, type ServerForm } from './get.operation';

export const EMAIL_NOT_OFFERED = 'not offered by this account';

/** What one data request of a set is for. */
interface PartSubject {
	subjectType: Subject['subjectType'];
	subject: string;
	databaseId?: string;
	collectionId?: string;
}

/** One data request of a set, as Create (Person) lists it. */
export interface SetPart extends PartSubject {
	id: string;
}

/** What Create (Person) outputs; Create and Wait keeps it while it waits. */
export interface PersonSet extends IDataObject {
	id: string;
	subjectType: 'person';
	subject: string;
	requests: IDataObject[];
	report: string | null;
	requestedAt: string;
	requestReceivedAt: string;
	dueBy: string;
	extendedDueBy: string;
}

/** A record Find Person found that gets no data request of its own, and why. */
interface NotRequested extends IDataObject {
	subjectType: string;
	id: string;
	reason: string;
}

/**
 * Finds the person (Find Person's own search) and creates the email request and one per profile
 * and subprofile, in Find Person's order, one after the other. With a report, each part's report
 * URL is that one plus set, part and parts, so that each delivery says what it is.
 * A part that fails fails the item, with Copernica's message and the parts already created.
 */
export async function createPersonSet(
	this: IExecuteFunctions,
	itemIndex: number,
	email: string,
	report: string | undefined,
	receivedAt: Date | undefined,
): Promise<PersonSet> {
	const requestedAt = new Date();
	const found = await findPerson.execute.call(this, itemIndex, { email, databaseIds: [], includeFields: false });
	const records = found.map((item) => item.json).filter((json) => typeof json.subjectType === 'string');
	// A removed record's fields are gone, and Copernica may no longer know its id: listed, not requested.
	const notRequested: NotRequested[] = records
		.filter((json) => json.removed === true)
		.map((json) => ({ subjectType: String(json.subjectType), id: String(json.id), reason: 'removed' }));
	const wanted: Array<PartSubject> = records
		.filter((json) => json.removed !== true)
		.map((json): PartSubject => ({
			subjectType: json.subjectType as Subject['subjectType'],
			subject: String(json.id),
			databaseId: String(json.databaseId),
			...(json.collectionId !== undefined ? { collectionId: String(json.collectionId) } : {}),
		}));

	const key = newSetKey();
	const requests: SetPart[] = [];
	const create = async (part: PartSubject, number: number, count: number, acceptStatuses?: number[]) => {
		try {
			const created: CreatedRequest = await createDataRequest.call(
				this,
				itemIndex,
				{ subjectType: part.subjectType, subject: part.subject },
				report === undefined ? undefined : partReportUrl(report, key, number, count),
				receivedAt,
				acceptStatuses,
			);
			requests.push({ id: created.id, ...part });
		} catch (error) {
			throw withPartsCreated(error, requests, part);
		}
	};

	let emailRequest: string | undefined;
	try {
		await create({ subjectType: 'email', subject: email }, 1, wanted.length + 1, [404]);
	} catch (error) {
		// A 404 that names the address is about the address: a failure like any other.
		if (!(error instanceof CreateRefused && emailCallAbsent(error.statusCode, error.text, email))) {
			throw nodeErrorOf(this, itemIndex, error);
		}
		emailRequest = EMAIL_NOT_OFFERED;
	}
	// Numbered as they are sent: without the email call, the profiles are parts 1 to n of n.
	const offset = requests.length;
	for (const [index, part] of wanted.entries()) await create(part, offset + index + 1, offset + wanted.length);

	const requestReceivedAt = receivedAt ?? requestedAt;
	return {
		id: setIdOf({ key, ids: requests.map((part) => part.id), email }),
		subjectType: 'person',
		subject: email,
		requests: requests as unknown as IDataObject[],
		...(emailRequest !== undefined ? { emailRequest } : {}),
		...(requests.length === 0 ? { found: 'nothing' } : {}),
		...(notRequested.length > 0 ? { notRequested } : {}),
		report: report === undefined ? null : maskReportSecret(report),
		requestedAt: requestedAt.toISOString(),
		requestReceivedAt: requestReceivedAt.toISOString(),
		...deadlinesOf(requestReceivedAt, this.getTimezone()),
	};
}

/** A failure as n8n shows it; a refused create (not the email call being absent) with Copernica's message. */
function nodeErrorOf(context: IExecuteFunctions, itemIndex: number, error: unknown): NodeApiError | NodeOperationError {
	if (error instanceof NodeApiError || error instanceof NodeOperationError) return error;
	if (!(error instanceof CreateRefused)) return new NodeOperationError(context.getNode(), error as Error, { itemIndex });
	const refused = error;
	let message = refused.message;
	try {
		const parsed = JSON.parse(refused.text) as { error?: { message?: unknown } };
		if (typeof parsed.error?.message === 'string') message = parsed.error.message;
	} catch {
		// not JSON: the status says it
	}
	return new NodeApiError(context.getNode(), { message } as never, { message, httpCode: String(refused.statusCode), itemIndex });
}

/** The failure of one part, telling which part and which requests of the set exist already. */
function withPartsCreated(error: unknown, created: SetPart[], part: PartSubject) {
	if (!(error instanceof NodeApiError || error instanceof NodeOperationError)) return error;
	const made = created.map((p) => `${p.subjectType} ${p.subject}: ${p.id}`).join(', ');
	const sentence =
		`This was the ${part.subjectType} ${part.subject} of the person's set.` +
		(made ? ` Already created for this person (do not create them again): ${made}.` : ' No data request of the set was created.');
	error.description = error.description ? `${error.description} ${sentence}` : sentence;
	return error;
}

// ------------------------------------------------------------------ reading a set back

export interface CheckedPart {
	id: string;
	status: PartStatus;
	/** The file, where the check already brought it (servers with only the bare form). */
	text?: string;
}

export interface CheckedSet {
	status: PartStatus;
	parts: CheckedPart[];
	retryAfterMs?: number;
}

/** One look at every part (Copernica's API, nothing remembered): the set's status and each part's. */
export async function checkSet(this: IExecuteFunctions, set: RequestSet, itemIndex: number, form: ServerForm = {}): Promise<CheckedSet> {
	const parts: CheckedPart[] = [];
	let retryAfterMs: number | undefined;
	for (const id of set.ids) {
		const fetched = await check.call(this, id, itemIndex, form);
		parts.push({ id, status: fetched.status, ...(fetched.text !== undefined ? { text: fetched.text } : {}) });
		if (fetched.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, fetched.retryAfterMs);
	}
	return { status: setStatusOf(parts), parts, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

/** The parts as an item shows them: id and status, no file. */
export const partStatuses = (checked: CheckedSet) => checked.parts.map(({ id, status }) => ({ id, status }));

/** The file's name: after the set's key (a list of ids: after its first id). */
export const bundleFileName = (set: RequestSet) => fileNameFor(set.key ? `person-${set.key}` : `set-${set.ids[0] ?? ''}`);

/**
 * The item for a set whose parts are all available: the bundle
 * `{ info: { type: "person", id }, parts: [{ info, data }, ...] }`, in the item (JSON: each part
 * also with its id and status) or as one binary file streamed part by part into n8n's store.
 */
export async function bundleItem(
	this: IExecuteFunctions,
	itemIndex: number,
	set: RequestSet,
	checked: CheckedSet,
	output: { returnAs: ReturnAs; binaryPropertyName: string; json: IDataObject },
): Promise<INodeExecutionData> {
	const info: BundleInfo = { type: 'person', id: set.email ?? null };
	if (output.returnAs === 'json') {
		const parts: IDataObject[] = [];
		let bytes = 0;
		for (const part of checked.parts) {
			const text = part.text ?? (await downloadText.call(this, part.id, itemIndex));
			if (text === undefined) throw notReady(this, itemIndex, part.id);
			const file = partFile(this, itemIndex, part.id, text);
			bytes += Buffer.byteLength(text, 'utf8');
			parts.push({ id: part.id, status: part.status, info: { ...file.info }, data: file.data as IDataObject[] });
		}
		return { json: { ...output.json, status: 'available', info: { ...info }, parts, summary: { bytes, parts: parts.length } } };
	}

	const results: BundlePartResult[] = [];
	let binary: IBinaryData;
	try {
		// The first part is opened before the bundle starts: its download stream makes the bundle's.
		const first = checked.parts.length > 0 ? await partBytes.call(this, itemIndex, checked.parts[0]) : undefined;
		const bytes = bundleBytes(
			info,
			checked.parts.length,
			async (index) => (index === 0 && first !== undefined ? first : await partBytes.call(this, itemIndex, checked.parts[index])),
			(index, result) => (results[index] = result),
		);
		const streamOf = streamMakerOf(first);
		const data = streamOf ? streamOf(bytes) : await collected(bytes);
		binary = await this.helpers.prepareBinaryData(data as Buffer, bundleFileName(set), 'application/json');
	} catch (error) {
		if (error instanceof NodeApiError || error instanceof NodeOperationError) throw nodeErrorOf(this, itemIndex, error);
		throw new NodeOperationError(this.getNode(), `The bundle could not be made: ${(error as Error).message}`, { itemIndex });
	}
	const parts = checked.parts.map((part, index) => ({ id: part.id, status: part.status, info: { ...results[index]?.info } }));
	const bytes = results.reduce((sum, result) => sum + result.summary.bytes, 0);
	return {
		json: { ...output.json, status: 'available', info: { ...info }, parts, summary: { bytes, parts: parts.length, perPart: results.map((r) => r.summary) } },
		binary: { [output.binaryPropertyName]: binary },
	};
}

/** A part's bytes as they arrive from /data (the bare form's text on servers without /data). */
async function partBytes(this: IExecuteFunctions, itemIndex: number, part: CheckedPart): Promise<Iterable<Uint8Array> | AsyncIterable<Uint8Array>> {
	if (part.text !== undefined) return [Buffer.from(part.text, 'utf8')];
	const response = await copernicaApiRequest.call(
		this,
		{ method: 'GET', path: `/v3/datarequest/${encodeURIComponent(part.id)}/data`, encoding: 'stream', acceptStatuses: [404] },
		itemIndex,
	);
	if (response.statusCode === 404) {
		await readErrorBody(response.body);
		const text = await downloadText.call(this, part.id, itemIndex);
		if (text === undefined) throw notReady(this, itemIndex, part.id);
		return [Buffer.from(text, 'utf8')];
	}
	return response.body as AsyncIterable<Uint8Array>;
}

/**
 * A function that makes a readable stream of an async iterable, taken from a download stream
 * (its class's static `from`, which every Node readable stream class has): n8n's binary store
 * takes a Buffer or a stream, and n8n's lint lets nodes import no stream module. Undefined when
 * there is no download stream (every part came as text, already in memory).
 */
function streamMakerOf(body: unknown): ((bytes: AsyncIterable<Buffer>) => unknown) | undefined {
	const stream = body as { pipe?: unknown; constructor?: { from?: (iterable: AsyncIterable<Buffer>) => unknown } } | undefined;
	const from = stream?.constructor?.from;
	if (typeof stream?.pipe !== 'function' || typeof from !== 'function') return undefined;
	return (bytes) => from.call(stream.constructor, bytes);
}

async function collected(bytes: AsyncIterable<Buffer>): Promise<Buffer> {
	const chunks: Buffer[] = [];
	for await (const chunk of bytes) chunks.push(chunk);
	return Buffer.concat(chunks);
}

function partFile(context: IExecuteFunctions, itemIndex: number, id: string, text: string) {
	try {
		return parseDataFile(text);
	} catch (error) {
		throw new NodeOperationError(context.getNode(), `Data request ${id}: Copernica sent a file that is not a data request file: ${(error as Error).message}`, {
			itemIndex,
		});
	}
}

function notReady(context: IExecuteFunctions, itemIndex: number, id: string) {
	return new NodeOperationError(context.getNode(), `Data request ${id} said it was available, but its file was not there when it was fetched`, {
		itemIndex,
		description: 'Run the item again in a moment.',
	});
}

/**
 * A waiting execution's resume webhook, seen as the execution context the API calls and the
 * binary store need: the node, its credential and parameters, the request and binary helpers.
 */
export function executeContextOf(hook: IWebhookFunctions): IExecuteFunctions {
	return {
		getNode: () => hook.getNode(),
		getCredentials: async (type: string) => await hook.getCredentials(type),
		getNodeParameter: (name: string, _itemIndex: number, fallback?: unknown) => hook.getNodeParameter(name, fallback),
		getTimezone: () => hook.getTimezone(),
		helpers: hook.helpers,
		logger: hook.logger,
	} as unknown as IExecuteFunctions;
}
