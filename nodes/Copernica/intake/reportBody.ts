/**
 * Copernica's report POST is documented only as "an HTTP POST call with the JSON data": the
 * content type is not. Accept the file as a JSON body, as JSON inside a form field, and as JSON
 * text under any other content type. Returns the parsed file and its JSON as text and as bytes,
 * or says why the body is not a data request file.
 *
 * The text and the bytes are made only when asked, and the bytes are the request's own when the
 * body is the JSON itself: for a 50 MB file each decoding or encoding is another 50-100 MB held at
 * once (bench/RESULTS.md, trigger).
 */
import { dataFileProblem, type DataFile } from '../helpers/dataFile';

export interface ReportFile {
	file: DataFile;
	readonly jsonText: string;
	readonly bytes: Buffer;
}
export type ReportBody = ReportFile | { problem: string };

/** The bytes as a Buffer, without copying them. */
const asBuffer = (bytes: Uint8Array) =>
	Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function report(file: DataFile, text: () => string, bytes?: Buffer): ReportFile {
	let jsonText: string | undefined;
	let jsonBytes = bytes;
	const found: ReportFile = {
		file,
		get jsonText() {
			return (jsonText ??= text());
		},
		get bytes() {
			return (jsonBytes ??= Buffer.from(found.jsonText, 'utf8'));
		},
	};
	return found;
}

function tryJson(text: string): unknown {
	try {
		return JSON.parse(text) as unknown;
	} catch {
		return undefined;
	}
}

function fromValue(value: unknown, jsonText: () => string, bytes?: Buffer): ReportBody | undefined {
	return dataFileProblem(value) === undefined ? report(value as DataFile, jsonText, bytes) : undefined;
}

/** A form body: the first field whose value is a data request file in JSON. */
function fromFields(fields: Iterable<[string, unknown]>): ReportBody | undefined {
	for (const [, value] of fields) {
		if (typeof value !== 'string' || !value.trimStart().startsWith('{')) continue;
		const found = fromValue(tryJson(value), () => value);
		if (found) return found;
	}
	return undefined;
}

/**
 * @param parsedBody what n8n's body parser made of the request (an object for JSON and forms)
 * @param rawBody the bytes as received
 */
export function readReportBody(parsedBody: unknown, rawBody: Uint8Array | undefined): ReportBody {
	const raw = rawBody && asBuffer(rawBody);
	const rawText = () => (raw ? raw.toString('utf8') : JSON.stringify(parsedBody));
	// Already parsed by n8n (JSON body): use it as it is instead of parsing the bytes again.
	const parsed = fromValue(parsedBody, rawText, raw);
	if (parsed) return parsed;
	if (parsedBody && typeof parsedBody === 'object' && !Array.isArray(parsedBody)) {
		const inField = fromFields(Object.entries(parsedBody));
		if (inField) return inField;
	}
	if (raw && raw.length > 0) {
		const text = raw.toString('utf8');
		const trimmed = text.trimStart();
		if (trimmed.startsWith('{')) {
			const value = tryJson(text);
			if (value === undefined) return { problem: 'the body is not valid JSON' };
			return fromValue(value, () => text, raw) ?? { problem: `not a data request file: ${dataFileProblem(value)}` };
		}
		const inForm = fromFields(new URLSearchParams(text).entries());
		if (inForm) return inForm;
	}
	if (parsedBody && typeof parsedBody === 'object' && Object.keys(parsedBody).length > 0) {
		return { problem: `not a data request file: ${dataFileProblem(parsedBody)}` };
	}
	return { problem: rawBody && rawBody.length > 0 ? 'the body holds no data request file' : 'the body is empty' };
}
