import type { IBinaryData, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { BINARY_ENCODING, NodeOperationError } from 'n8n-workflow';

import { DataFileScanner, parseDataFile, type DataFile } from '../helpers/dataFile';
import { parseStatusAnswer, saysNotReadyYet, type StatusAnswer } from '../helpers/responseForms';
import { validateRequestId } from '../helpers/validation';
import { copernicaApiRequest, readErrorBody } from '../transport';

export const description: INodeProperties[] = [
	{
		displayName: 'Request ID',
		name: 'requestId',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'e.g. 1234',
		displayOptions: { show: { operation: ['get'] } },
		description: 'The ID the Create operation returned',
	},
	{
		displayName: 'Return File As',
		name: 'returnAs',
		type: 'options',
		displayOptions: { show: { operation: ['get'] } },
		options: [
			{
				name: 'JSON',
				value: 'json',
				description: 'The file\'s "info" and "data" in the item, ready for the next node',
			},
			{
				name: 'Binary File',
				value: 'binary',
				description: 'The file itself, to attach to a ticket or a reply; the item gets only a summary. Use this for large files.',
			},
		],
		default: 'json',
		description: 'How the file is returned once Copernica has it ready. Until then the item says "pending".',
	},
	{
		displayName: 'Put Output File in Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		displayOptions: { show: { operation: ['get'], returnAs: ['binary'] } },
		hint: 'The name of the output binary field to put the file in',
	},
];

const FILE_NAME = 'data.json';
const MIME_TYPE = 'application/json';

type Fetched = StatusAnswer & { file?: DataFile; text?: string };

const requestPath = (id: string, suffix = '') => `/v3/datarequest/${encodeURIComponent(id)}${suffix}`;

async function getText(this: IExecuteFunctions, path: string, itemIndex: number, accept: number[] = []) {
	const response = await copernicaApiRequest.call(this, { method: 'GET', path, acceptStatuses: accept }, itemIndex);
	return { statusCode: response.statusCode, text: await readErrorBody(response.body) };
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

/**
 * Older servers have no /status and /data: the bare GET answers both "not ready" and the file.
 */
async function fetchWithoutStatus(this: IExecuteFunctions, id: string, itemIndex: number): Promise<Fetched> {
	const data = await getText.call(this, requestPath(id, '/data'), itemIndex, [404]);
	if (data.statusCode < 400) return { status: 'available', text: data.text };
	const bare = await getText.call(this, requestPath(id), itemIndex, [404]);
	if (bare.statusCode < 400) {
		return saysNotReadyYet(bare.text) ? { status: 'pending' } : { status: 'available', text: bare.text };
	}
	return { status: saysNotReadyYet(data.text) ? 'pending' : 'not available' };
}

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData> {
	const id = validateRequestId(this.getNodeParameter('requestId', itemIndex));
	const returnAs = this.getNodeParameter('returnAs', itemIndex, 'json') as 'json' | 'binary';
	const binaryPropertyName =
		returnAs === 'binary' ? (this.getNodeParameter('binaryPropertyName', itemIndex, 'data') as string) : '';

	const statusCall = await getText.call(this, requestPath(id, '/status'), itemIndex, [404, 405]);
	let fetched: Fetched | undefined = statusCall.statusCode < 400 ? parseStatusAnswer(statusCall.text) : undefined;
	if (fetched === undefined) fetched = await fetchWithoutStatus.call(this, id, itemIndex);

	const pairedItem = { item: itemIndex };
	if (fetched.status !== 'available') {
		const json: Record<string, unknown> = { id, status: fetched.status };
		if (fetched.availableBytes !== undefined) json.availableBytes = fetched.availableBytes;
		if (fetched.status === 'not available') {
			json.message = 'Copernica has no file for this ID: the ID is unknown, or the file has expired. Create a new data request.';
		}
		return { json: json as INodeExecutionData['json'], pairedItem };
	}

	if (returnAs === 'json') {
		const text = fetched.text ?? (await downloadText.call(this, id, itemIndex));
		if (text === undefined) return { json: { id, status: 'pending' }, pairedItem };
		const file = fileFrom.call(this, text, itemIndex);
		return { json: { id, status: 'available', info: { ...file.info }, data: file.data as never }, pairedItem };
	}

	const binary = fetched.text !== undefined
		? await this.helpers.prepareBinaryData(Buffer.from(fetched.text, 'utf8'), FILE_NAME, MIME_TYPE)
		: await downloadBinary.call(this, id, itemIndex);
	if (binary === undefined) return { json: { id, status: 'pending' }, pairedItem };
	const { info, summary } = await scanBinary.call(this, binary, itemIndex);
	return {
		json: { id, status: 'available', info: { ...info }, summary },
		binary: { [binaryPropertyName]: binary },
		pairedItem,
	};
}

/** The file as text from /data, falling back to the bare form; undefined if it is not ready after all. */
async function downloadText(this: IExecuteFunctions, id: string, itemIndex: number): Promise<string | undefined> {
	const data = await getText.call(this, requestPath(id, '/data'), itemIndex, [404]);
	if (data.statusCode < 400) return data.text;
	const fetched = await fetchWithoutStatus.call(this, id, itemIndex);
	return fetched.text;
}

/** Streams /data straight into n8n's binary data store, so a large file is never one string. */
async function downloadBinary(this: IExecuteFunctions, id: string, itemIndex: number): Promise<IBinaryData | undefined> {
	const response = await copernicaApiRequest.call(
		this,
		{ method: 'GET', path: requestPath(id, '/data'), encoding: 'stream', acceptStatuses: [404] },
		itemIndex,
	);
	if (response.statusCode === 404) {
		await readErrorBody(response.body);
		const text = await downloadText.call(this, id, itemIndex);
		return text === undefined ? undefined : await this.helpers.prepareBinaryData(Buffer.from(text, 'utf8'), FILE_NAME, MIME_TYPE);
	}
	return await this.helpers.prepareBinaryData(response.body as Buffer, FILE_NAME, MIME_TYPE);
}

/** Reads the stored file back in chunks to check it and count what it holds. */
async function scanBinary(this: IExecuteFunctions, binary: IBinaryData, itemIndex: number) {
	const scanner = new DataFileScanner();
	if (binary.id) {
		const stream = await this.helpers.getBinaryStream(binary.id);
		for await (const chunk of stream) scanner.write(chunk as Buffer);
	} else {
		scanner.write(Buffer.from(binary.data, BINARY_ENCODING));
	}
	try {
		return scanner.result();
	} catch (error) {
		throw new NodeOperationError(this.getNode(), `Copernica sent a file that is not a data request file: ${(error as Error).message}`, {
			itemIndex,
		});
	}
}
