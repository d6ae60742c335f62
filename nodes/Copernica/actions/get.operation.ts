import type { IBinaryData, IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import type { JsonObject } from 'n8n-workflow';
import { BINARY_ENCODING, NodeApiError, NodeOperationError } from 'n8n-workflow';

import { nextPollDelayMs, pollPolicyFromSeconds, type PollPolicy } from '../helpers/backoff';
import { DataFileScanner, parseDataFile, summarizeDataFile, type DataFile } from '../helpers/dataFile';
import { isAgentTool } from '../helpers/agentTool';
import { sleepUnlessCancelled } from '../helpers/sleepUnlessCancelled';
import { backoffDelayMs, DEFAULT_RETRIES, parseRetryAfterMs, retryCount } from '../helpers/retry';
import { binaryPropertyOf, DEFAULT_RETURN_AS, fileNameFor, fileParameters, type ReturnAs } from '../helpers/fileParameters';
import { parseStatusAnswer, saysNotAvailable, saysNotReadyYet, type StatusAnswer } from '../helpers/responseForms';
import { requestSetOf, setIdOf, type RequestSet } from '../helpers/requestSet';
import { validateRequestId } from '../helpers/validation';
import { bundleItem, checkSet, partStatuses, type CheckedSet } from './person';
import { copernicaApiRequest, readErrorBody } from '../transport';

// Create and Wait returns the file the same way when it arrives.
const FILE_OPERATIONS = ['get', 'createAndWait'];
const DEFAULT_MAX_WAIT_SECONDS = 300;
// An AI agent waits for its tool's answer: Get waits no longer than this there.
export const TOOL_MAX_WAIT_SECONDS = 60;

export const description: INodeProperties[] = [
	{
		displayName: 'Request ID',
		name: 'requestId',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'e.g. 1234, or person:... for a person',
		displayOptions: { show: { operation: ['get'] } },
		description:
			'The ID the Create operation returned. For Subject Type Person, the whole ID it returned (person:...), or several request IDs separated by commas: the answer is "pending" until every one of them is ready, then one file holding them all.',
	},
	{
		displayName: 'Wait for File',
		name: 'waitForFile',
		type: 'boolean',
		default: false,
		displayOptions: { show: { operation: ['get'] } },
		description:
			'Whether to keep checking until the file is ready, instead of answering "pending" at once. Every check is an API call that Copernica counts, so checks are spaced out: 1 second, then each wait twice the one before, up to the maximum check interval (Options).',
	},
	{
		displayName: 'Stop Checking After (Seconds)',
		name: 'maxWaitSeconds',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: DEFAULT_MAX_WAIT_SECONDS,
		displayOptions: { show: { operation: ['get'], waitForFile: [true] } },
		description:
			'How long to keep checking. The execution stays busy all that time; for files that take hours, use Create and Wait or the trigger instead. As an AI agent\'s tool, Get checks for at most 60 seconds.',
	},
	{
		displayName: 'When Time Runs Out',
		name: 'onTimeout',
		type: 'options',
		options: [
			{
				name: 'Return "Pending"',
				value: 'returnPending',
				description: 'Output the item with status "pending", like Get without waiting',
			},
			{
				name: 'Fail',
				value: 'error',
				description: 'Fail the item (or, with Continue On Fail, output the error)',
			},
		],
		default: 'returnPending',
		displayOptions: { show: { operation: ['get'], waitForFile: [true] } },
		description: 'What to do when the file is still not ready when checking stops',
	},
	...fileParameters({ operation: FILE_OPERATIONS }),
];

const READ_BACK_CHUNK_BYTES = 1024 * 1024;
const MIME_TYPE = 'application/json';

type Fetched = StatusAnswer & { file?: DataFile; text?: string; retryAfterMs?: number };
/** A check, and when Get waited: how many checks, how long, and whether time ran out. */
type Waited = Fetched & { checks?: number; waitedMs?: number; timedOut?: boolean };

const requestPath = (id: string, suffix = '') => `/v3/datarequest/${encodeURIComponent(id)}${suffix}`;

async function getText(this: IExecuteFunctions, path: string, itemIndex: number, accept: number[] = []) {
	// An error that says the request is unknown or expired is an answer ("not available"), not a failure.
	const request = { method: 'GET' as const, path, acceptStatuses: accept, acceptError: saysNotAvailable };
	const response = await copernicaApiRequest.call(this, request, itemIndex);
	return { statusCode: response.statusCode, headers: response.headers, text: await readErrorBody(response.body) };
}

function fileFrom(this: IExecuteFunctions, text: string, itemIndex: number): DataFile {
	try {
		return parseDataFile(text);
	} catch (error) {
		throw new NodeOperationError(this.getNode(), `Copernica sent a file that is not a data request file: ${(error as Error).message}`, {
			itemIndex,
		});
	}
}

/** What the server turned out to offer: later checks of a wait skip endpoints it does not have. */
export interface ServerForm {
	statusEndpoint?: boolean;
	dataEndpoint?: boolean;
}

/**
 * Older servers have no /status and /data: the bare GET answers both "not ready" and the file.
 * A /data that says "not available (yet)" is answer enough; the bare form is asked only when not.
 */
async function fetchWithoutStatus(
	this: IExecuteFunctions,
	id: string,
	itemIndex: number,
	form: ServerForm = {},
): Promise<Fetched> {
	let data: { statusCode: number; text: string } | undefined;
	if (form.dataEndpoint !== false) {
		data = await getText.call(this, requestPath(id, '/data'), itemIndex, [404]);
		if (data.statusCode < 400) return { status: 'available', text: data.text };
		if (saysNotReadyYet(data.text)) return { status: 'pending' };
		if (saysNotAvailable(data.text)) return { status: 'not available' };
	}
	const bare = await getText.call(this, requestPath(id), itemIndex, [404]);
	if (bare.statusCode < 400) {
		// /data failed where the bare form answers: this server has no /data.
		if (data !== undefined) form.dataEndpoint = false;
		return saysNotReadyYet(bare.text) ? { status: 'pending' } : { status: 'available', text: bare.text };
	}
	// "not available" only when Copernica says so; a 404 that names nothing may be a file not built yet.
	return { status: saysNotAvailable(bare.text) ? 'not available' : 'pending' };
}

/** One look at the request: /status where the server has it, the older forms otherwise. */
export async function check(this: IExecuteFunctions, id: string, itemIndex: number, form: ServerForm): Promise<Fetched> {
	if (form.statusEndpoint !== false) {
		const call = await getText.call(this, requestPath(id, '/status'), itemIndex, [404, 405]);
		if (call.statusCode >= 400 && saysNotAvailable(call.text)) return { status: 'not available' };
		const answer = call.statusCode < 400 ? parseStatusAnswer(call.text) : undefined;
		form.statusEndpoint = answer !== undefined;
		if (answer !== undefined) {
			const retryAfter = call.headers['retry-after'];
			return answer.status === 'pending' && retryAfter !== undefined
				? { ...answer, retryAfterMs: parseRetryAfterMs(String(retryAfter)) }
				: answer;
		}
	}
	return await fetchWithoutStatus.call(this, id, itemIndex, form);
}

interface WaitOptions {
	maxWaitMs: number;
	onTimeout: 'returnPending' | 'error';
	policy: PollPolicy;
}

/** The "Wait for File" settings of an item, or undefined when Get answers at once. */
function waitOptionsOf(this: IExecuteFunctions, itemIndex: number): WaitOptions | undefined {
	if (this.getNodeParameter('waitForFile', itemIndex, false) !== true) return undefined;
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const asked = Number(this.getNodeParameter('maxWaitSeconds', itemIndex, DEFAULT_MAX_WAIT_SECONDS));
	let seconds = Number.isFinite(asked) && asked >= 0 ? asked : DEFAULT_MAX_WAIT_SECONDS;
	if (isAgentTool(this)) seconds = Math.min(seconds, TOOL_MAX_WAIT_SECONDS);
	return {
		maxWaitMs: seconds * 1000,
		onTimeout: this.getNodeParameter('onTimeout', itemIndex, 'returnPending') === 'error' ? 'error' : 'returnPending',
		policy: pollPolicyFromSeconds(options.pollIntervalSeconds, options.maxPollIntervalSeconds),
	};
}

/**
 * Checks until the file is there (or Copernica has none), sleeping between checks as
 * helpers/backoff.ts plans; stops at the maximum wait, or when the execution is cancelled.
 */
async function waitForFile<T extends { status: string; retryAfterMs?: number }>(
	context: IExecuteFunctions,
	wait: WaitOptions,
	checkOnce: (form: ServerForm) => Promise<T>,
): Promise<T & { checks: number; waitedMs: number; timedOut: boolean }> {
	const form: ServerForm = {};
	const started = Date.now();
	for (let checks = 1; ; checks++) {
		const fetched = await checkOnce(form);
		const elapsedMs = Date.now() - started;
		const done = { ...fetched, checks, waitedMs: elapsedMs };
		if (fetched.status !== 'pending') return { ...done, timedOut: false };
		const delay = nextPollDelayMs(
			{ checks, elapsedMs, maxWaitMs: wait.maxWaitMs, retryAfterMs: fetched.retryAfterMs },
			wait.policy,
		);
		if (delay === undefined || cancelled(context)) return { ...done, timedOut: true };
		await sleepUnlessCancelled(delay, context.getExecutionCancelSignal?.());
		if (cancelled(context)) return { ...done, waitedMs: Date.now() - started, timedOut: true };
	}
}

const cancelled = (context: IExecuteFunctions) => context.getExecutionCancelSignal?.()?.aborted === true;


export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData> {
	const given = this.getNodeParameter('requestId', itemIndex);
	const returnAs = this.getNodeParameter('returnAs', itemIndex, DEFAULT_RETURN_AS) as ReturnAs;
	const wait = waitOptionsOf.call(this, itemIndex);
	// A set (Create with Subject Type "Person", or a list of IDs): all its parts as one bundle.
	const set = requestSetOf(given);
	if (set !== undefined) return await getSet.call(this, itemIndex, set, returnAs, wait);
	const id = validateRequestId(given);

	const fetched: Waited = wait
		? await waitForFile<Fetched>(this, wait, async (form) => await check.call(this, id, itemIndex, form))
		: await check.call(this, id, itemIndex, {});

	const pairedItem = { item: itemIndex };
	if (fetched.status !== 'available') {
		if (wait && fetched.timedOut && wait.onTimeout === 'error') {
			throw new NodeOperationError(
				this.getNode(),
				`The file of data request ${id} was not ready within ${wait.maxWaitMs / 1000} seconds`,
				{
					itemIndex,
					description: `Copernica is still assembling it (checked ${fetched.checks} times). Run Get again later, raise "Stop Checking After", or use Create and Wait, which waits for Copernica's report without occupying n8n.`,
				},
			);
		}
		const json: IDataObject = { id, status: fetched.status };
		if (fetched.availableBytes !== undefined) json.availableBytes = fetched.availableBytes;
		if (fetched.status === 'not available') {
			const message = 'Copernica has no file for this ID: the ID is unknown, or the file has expired';
			if (this.getNodeParameter('options.failIfNotAvailable', itemIndex, false) === true) {
				throw new NodeOperationError(this.getNode(), `Data request ${id}: ${message}`, {
					itemIndex,
					description: 'Check the ID (the one Create returned), or create a new data request.',
				});
			}
			json.message = `${message}. Create a new data request.`;
		}
		Object.assign(json, waitSummary(fetched));
		return { json, pairedItem };
	}

	if (returnAs === 'json') {
		const text = fetched.text ?? (await downloadText.call(this, id, itemIndex));
		if (text === undefined) return { json: { id, status: 'pending' }, pairedItem };
		const file = fileFrom.call(this, text, itemIndex);
		return {
			json: {
				id,
				status: 'available',
				info: { ...file.info },
				data: file.data as never,
				summary: summarizeDataFile(file, Buffer.byteLength(text, 'utf8')),
				...waitSummary(fetched),
			},
			pairedItem,
		};
	}

	const fileName = fileNameFor(id);
	const downloaded = fetched.text !== undefined
		? { binary: await this.helpers.prepareBinaryData(Buffer.from(fetched.text, 'utf8'), fileName, MIME_TYPE) }
		: await downloadBinary.call(this, id, itemIndex, fileName);
	if (downloaded === undefined) return { json: { id, status: 'pending' }, pairedItem };
	const { binary } = downloaded;
	const { info, summary } = await scanBinary.call(this, binary, itemIndex, downloaded.scanned);
	return {
		json: { id, status: 'available', info: { ...info }, summary, ...waitSummary(fetched) },
		binary: { [binaryPropertyOf(this.getNodeParameter('binaryPropertyName', itemIndex, ''))]: binary },
		pairedItem,
	};
}

/** Get of a set: `pending` (with each part's status) until every part is available, then the bundle. */
async function getSet(
	this: IExecuteFunctions,
	itemIndex: number,
	set: RequestSet,
	returnAs: ReturnAs,
	wait: WaitOptions | undefined,
): Promise<INodeExecutionData> {
	const id = setIdOrList(set);
	const checked: CheckedSet & { checks?: number; waitedMs?: number; timedOut?: boolean } = wait
		? await waitForFile<CheckedSet>(this, wait, async (form) => await checkSet.call(this, set, itemIndex, form))
		: await checkSet.call(this, set, itemIndex);
	const pairedItem = { item: itemIndex };
	if (checked.status !== 'available') {
		if (wait && checked.timedOut && wait.onTimeout === 'error') {
			const ready = checked.parts.filter((part) => part.status === 'available').length;
			throw new NodeOperationError(this.getNode(), `The set's files were not all ready within ${wait.maxWaitMs / 1000} seconds`, {
				itemIndex,
				description: `${ready} of ${checked.parts.length} are (checked ${checked.checks} times). Run Get again later, or raise "Stop Checking After".`,
			});
		}
		if (checked.status === 'not available' && this.getNodeParameter('options.failIfNotAvailable', itemIndex, false) === true) {
			const gone = checked.parts.filter((part) => part.status === 'not available').map((part) => part.id);
			throw new NodeOperationError(this.getNode(), `Copernica has no file for ${gone.join(', ')} of this set: unknown, or expired`, {
				itemIndex,
				description: 'Create the data requests again.',
			});
		}
		return { json: { id, status: checked.status, parts: partStatuses(checked), ...waitSummary(checked) }, pairedItem };
	}
	const item = await bundleItem.call(this, itemIndex, set, checked, {
		returnAs,
		binaryPropertyName: binaryPropertyOf(this.getNodeParameter('binaryPropertyName', itemIndex, '')),
		json: { id },
	});
	Object.assign(item.json, waitSummary(checked));
	return { ...item, pairedItem };
}

/** The set as Get's output names it: the set id, or the list of ids it was given. */
const setIdOrList = (set: RequestSet) => (set.key ? setIdOf(set) : set.ids.join(','));

/** How long Get waited and how many checks (API calls) that took; nothing when it did not wait. */
function waitSummary(fetched: { checks?: number; waitedMs?: number }): IDataObject {
	if (fetched.checks === undefined) return {};
	return { checks: fetched.checks, waitedSeconds: Math.round((fetched.waitedMs ?? 0) / 100) / 10 };
}

/** The file as text from /data, falling back to the bare form; undefined if it is not ready after all. */
export async function downloadText(this: IExecuteFunctions, id: string, itemIndex: number): Promise<string | undefined> {
	const data = await getText.call(this, requestPath(id, '/data'), itemIndex, [404]);
	if (data.statusCode < 400) return data.text;
	const fetched = await fetchWithoutStatus.call(this, id, itemIndex);
	return fetched.text;
}

/**
 * Streams /data straight into n8n's binary data store, so a large file is never one string, and
 * scans it on the way (watchChunks), so the stored file is not read a second time (that read-back
 * made a 100 MB Get take about 75% longer, bench/RESULTS.md). A body that is not a stream is
 * scanned after storing.
 * A download that breaks off part-way is dropped and asked for again as a whole, like any failed
 * read (Options > Retries).
 */
async function downloadBinary(
	this: IExecuteFunctions,
	id: string,
	itemIndex: number,
	fileName: string,
): Promise<{ binary: IBinaryData; scanned?: DataFileScanner } | undefined> {
	const retries = retryCount(this.getNodeParameter('options.retries', itemIndex, DEFAULT_RETRIES));
	for (let tries = 1; ; tries++) {
		const downloaded = await downloadBinaryOnce.call(this, id, itemIndex, fileName);
		if (downloaded === undefined || !('broken' in downloaded)) return downloaded;
		const { bytes, code } = downloaded.broken;
		if (tries > retries || cancelled(this)) {
			// No error code in the message: n8n replaces a message that holds one by a generic text.
			const message = `The download of the file broke off after ${bytes} bytes`;
			const attempts = tries > 1 ? ` Tried ${tries} times.` : '';
			const cause = code ? ` (${code.toLowerCase()})` : '';
			throw new NodeApiError(this.getNode(), { message } as JsonObject, {
				message,
				description: `The connection to Copernica was lost while the file was being downloaded${cause}; the part received was dropped.${attempts} Run the item again; for very large files, consider the Base URL https://rest.copernica.com, which Copernica recommends for downloads.`,
				itemIndex,
			});
		}
		this.logger.debug(`Copernica: a file download broke off (${code ?? 'stream error'}); retry ${tries} of ${retries}`);
		await sleepUnlessCancelled(backoffDelayMs(tries), this.getExecutionCancelSignal?.());
	}
}

type Downloaded = { binary: IBinaryData; scanned?: DataFileScanner } | { broken: { bytes: number; code?: string } };

/** One GET of /data into the binary store; a body stream that fails part-way comes back as `broken`. */
async function downloadBinaryOnce(
	this: IExecuteFunctions,
	id: string,
	itemIndex: number,
	fileName: string,
): Promise<Downloaded | undefined> {
	const response = await copernicaApiRequest.call(
		this,
		{ method: 'GET', path: requestPath(id, '/data'), encoding: 'stream', acceptStatuses: [404] },
		itemIndex,
	);
	if (response.statusCode === 404) {
		await readErrorBody(response.body);
		const text = await downloadText.call(this, id, itemIndex);
		return text === undefined
			? undefined
			: { binary: await this.helpers.prepareBinaryData(Buffer.from(text, 'utf8'), fileName, MIME_TYPE) };
	}
	const scanned = new DataFileScanner();
	let bytes = 0;
	const watching = watchChunks(response.body as Watchable, (chunk) => {
		bytes += chunk.length;
		scanned.write(chunk);
	});
	try {
		const binary = await this.helpers.prepareBinaryData(response.body as Buffer, fileName, MIME_TYPE);
		return { binary, scanned: watching ? scanned : undefined };
	} catch (error) {
		const code = (error as { code?: unknown }).code;
		return { broken: { bytes, code: typeof code === 'string' ? code : undefined } };
	}
}

/** The Readable parts used to watch a download pass (all documented stream methods). */
type Watchable = {
	push?: (chunk: unknown, encoding?: BufferEncoding) => boolean;
	read?: () => unknown;
	unshift?: (chunk: unknown) => void;
};

/**
 * Hands every byte of a readable stream to `watch` as it enters the stream. Every chunk of a
 * Readable arrives through its push(), so that is where it is watched; what arrived before (the
 * first bytes come with the answer's headers) is read and put back in front. This instead of a
 * pass-through stream between n8n's request helper and its store, which cost a stream hop per
 * chunk. The chunks go on as they came: gathering them into larger pieces for the store saved
 * file writes but made a copy of every byte, and the profiles showed it gained nothing while it
 * doubled the buffers V8 must collect (bench/RESULTS.md, issue 16). False when the body is not
 * such a stream: it is scanned after storing.
 */
function watchChunks(body: Watchable, watch: (chunk: Buffer) => void): boolean {
	const { push, read, unshift } = body;
	if (typeof push !== 'function' || typeof read !== 'function' || typeof unshift !== 'function') return false;
	const asBuffer = (chunk: unknown, encoding?: BufferEncoding) =>
		typeof chunk === 'string' ? Buffer.from(chunk, encoding) : (chunk as Buffer);
	const arrived = read.call(body);
	if (arrived !== null && arrived !== undefined) {
		watch(asBuffer(arrived));
		unshift.call(body, arrived);
	}
	body.push = function (chunk: unknown, encoding?: BufferEncoding) {
		if (chunk !== null && chunk !== undefined) watch(asBuffer(chunk, encoding));
		return push.call(this, chunk, encoding);
	};
	return true;
}

/**
 * Checks the file and counts what it holds: from the scan made while it was downloaded, or else by
 * reading the stored file back in chunks.
 */
async function scanBinary(this: IExecuteFunctions, binary: IBinaryData, itemIndex: number, scanned?: DataFileScanner) {
	let scanner = scanned;
	if (scanner === undefined) {
		scanner = new DataFileScanner();
		if (binary.id) {
			const stream = await this.helpers.getBinaryStream(binary.id, READ_BACK_CHUNK_BYTES);
			for await (const chunk of stream) scanner.write(chunk as Buffer);
		} else {
			scanner.write(Buffer.from(binary.data, BINARY_ENCODING));
		}
	}
	try {
		return scanner.result();
	} catch (error) {
		throw new NodeOperationError(this.getNode(), `Copernica sent a file that is not a data request file: ${(error as Error).message}`, {
			itemIndex,
		});
	}
}
