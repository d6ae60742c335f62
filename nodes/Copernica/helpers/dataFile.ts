/**
 * The data request file: { "info": { "type": "email", "id": "someone@example.com" },
 * "data": [ [ ... ], [ ... ] ] }. `data` is an array of groups (messages sent, opens, clicks,
 * surveys, ...), each an array of entries. Copernica does not document the groups further, so a
 * summary counts them rather than naming them.
 */
import type { IDataObject } from 'n8n-workflow';

export interface DataFileInfo {
	type: string;
	id: string | number;
}

export interface DataFile {
	info: DataFileInfo;
	data: unknown[];
}

export interface DataFileSummary extends IDataObject {
	bytes: number;
	groups: number;
	entries: number;
	entriesPerGroup: number[];
}

const SUBJECT_TYPES = ['email', 'profile', 'subprofile'];

/** Why a parsed value is not a data request file, or undefined when it is one. */
export function dataFileProblem(value: unknown): string | undefined {
	if (typeof value !== 'object' || value === null || Array.isArray(value)) {
		return 'the body is not a JSON object';
	}
	const { info, data } = value as Record<string, unknown>;
	if (typeof info !== 'object' || info === null || Array.isArray(info)) return 'it has no "info" object';
	const { type, id } = info as Record<string, unknown>;
	if (typeof type !== 'string' || !SUBJECT_TYPES.includes(type)) {
		return '"info.type" is not email, profile or subprofile';
	}
	if ((typeof id !== 'string' || id === '') && typeof id !== 'number') return '"info.id" is missing';
	if (!Array.isArray(data)) return '"data" is not an array';
	return undefined;
}

/** Parses the file's text; throws an Error saying what is wrong when it is not a data request file. */
export function parseDataFile(text: string): DataFile {
	const value = parseJsonOrUndefined(text);
	if (value === undefined) throw new Error('the body is not valid JSON');
	const problem = dataFileProblem(value);
	if (problem) throw new Error(problem);
	return value as DataFile;
}

export function summarizeDataFile(file: DataFile, bytes: number): DataFileSummary {
	const entriesPerGroup = file.data.map((group) => (Array.isArray(group) ? group.length : 1));
	return {
		bytes,
		groups: file.data.length,
		entries: entriesPerGroup.reduce((sum, count) => sum + count, 0),
		entriesPerGroup,
	};
}

type Role = 'root' | 'info' | 'data' | 'group' | 'other';
interface Frame {
	isObject: boolean;
	role: Role;
	key: string | undefined;
	awaitingKey: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Reads a data request file as it streams past, chunk by chunk, and keeps only what a summary
 * needs (info, counts, size): a 500 MB file is summarised without holding it in memory.
 * It works on bytes: UTF-8 continuation bytes are never quotes or backslashes.
 */
export class DataFileScanner {
	private bytes = 0;
	private readonly stack: Frame[] = [];
	private inString = false;
	private escaped = false;
	private skipDepth = 0; // > 0: inside a container nobody counts, this many brackets deep
	private captured: number[] | undefined; // bytes of a key or info value being read
	private capturingKey = false;
	private literal: string | undefined; // a number, true, false or null being read
	private rootIsObject: boolean | undefined;
	private readonly info: Record<string, unknown> = {};
	private sawInfo = false;
	private sawData = false;
	private readonly entriesPerGroup: number[] = [];

	private failure: string | undefined; // set when the bytes stopped making sense as JSON

	/**
	 * Feeds the next bytes. Never throws, so that it can watch a download as it passes: bytes that
	 * cannot be JSON are remembered, and result() says so.
	 */
	write(chunk: Uint8Array): void {
		if (this.failure !== undefined) {
			this.bytes += chunk.length;
			return;
		}
		try {
			this.scan(chunk);
		} catch {
			this.failure = 'the body is not valid JSON';
		}
	}

	private scan(chunk: Uint8Array): void {
		this.bytes += chunk.length;
		for (let i = 0; i < chunk.length; i++) {
			if (this.skipDepth > 0) {
				const end = this.skipContainer(chunk, i);
				if (end === -1) break;
				i = end;
				this.stack.pop();
				continue;
			}
			if (this.inString) {
				if (this.captured === undefined) {
					// Strings nobody needs (MIME messages, keys of entries) are skipped to their end.
					const end = this.skipString(chunk, i);
					if (end === -1) break;
					i = end;
					this.endString();
					continue;
				}
				this.readStringByte(chunk[i]);
				continue;
			}
			const byte = chunk[i];
			if (this.literal !== undefined) {
				if (!isLiteralEnd(byte)) {
					this.literal += String.fromCharCode(byte);
					continue;
				}
				this.endLiteral();
			}
			this.readStructureByte(byte);
		}
	}

	/**
	 * Inside a container whose contents nobody counts (the fields of an entry), only strings and
	 * brackets matter: skips to the bracket that closes it and returns its index, or -1 when the
	 * chunk ends first (skipDepth and inString carry over to the next chunk).
	 */
	private skipContainer(chunk: Uint8Array, from: number): number {
		for (let i = from; i < chunk.length; i++) {
			if (this.inString) {
				const end = this.skipString(chunk, i);
				if (end === -1) return -1;
				this.inString = false;
				i = end;
				continue;
			}
			const byte = chunk[i];
			if (byte === QUOTE) this.inString = true;
			else if (byte === 0x7b || byte === 0x5b) this.skipDepth++;
			else if ((byte === 0x7d || byte === 0x5d) && --this.skipDepth === 0) return i;
		}
		return -1;
	}

	/**
	 * Where the string being read ends in this chunk (its closing quote), or -1 when the chunk ends
	 * first. Only quotes are searched for: a quote is escaped when an odd run of backslashes stands
	 * right before it, so the many escapes of a MIME text (\r\n, \") cost nothing until a quote.
	 */
	private skipString(chunk: Uint8Array, from: number): number {
		let start = from;
		if (this.escaped) {
			// The previous chunk ended with a backslash: this chunk's first byte is the escaped one.
			this.escaped = false;
			start++;
		}
		for (let at = start; ; ) {
			const quote = nextQuote(chunk, at);
			if (quote === -1) {
				this.escaped = backslashesBefore(chunk, start, chunk.length) % 2 === 1;
				return -1;
			}
			if (backslashesBefore(chunk, start, quote) % 2 === 0) return quote;
			at = quote + 1;
		}
	}

	/** The summary, or an Error saying why the bytes seen are not a data request file. */
	result(): { info: DataFileInfo; summary: DataFileSummary } {
		if (this.failure !== undefined) throw new Error(this.failure);
		if (this.rootIsObject !== true) throw new Error('the body is not a JSON object');
		if (this.inString || this.stack.length > 0) throw new Error('the body ends before the JSON does');
		if (!this.sawInfo) throw new Error('it has no "info" object');
		const problem = dataFileProblem({ info: this.info, data: this.sawData ? [] : undefined });
		if (problem) throw new Error(problem);
		return {
			info: { type: this.info.type as string, id: this.info.id as string | number },
			summary: {
				bytes: this.bytes,
				groups: this.entriesPerGroup.length,
				entries: this.entriesPerGroup.reduce((sum, count) => sum + count, 0),
				entriesPerGroup: [...this.entriesPerGroup],
			},
		};
	}

	private readStringByte(byte: number): void {
		if (this.escaped) {
			this.escaped = false;
		} else if (byte === BACKSLASH) {
			this.escaped = true;
		} else if (byte === QUOTE) {
			this.endString();
			return;
		}
		this.captured?.push(byte);
	}

	private endString(): void {
		this.inString = false;
		const { captured, capturingKey } = this;
		this.captured = undefined;
		this.capturingKey = false;
		if (captured === undefined) return;
		const text = JSON.parse(`"${Buffer.from(captured).toString('utf8')}"`) as string;
		const top = this.stack[this.stack.length - 1];
		if (capturingKey) top.key = text;
		else this.info[top.key as string] = text;
	}

	private endLiteral(): void {
		const literal = this.literal as string;
		this.literal = undefined;
		const top = this.stack[this.stack.length - 1];
		if (top?.role === 'info' && (top.key === 'type' || top.key === 'id')) {
			this.info[top.key] = Number.isNaN(Number(literal)) ? literal : Number(literal);
		}
	}

	/** A value starts inside the current container: count it, and say what role it plays. */
	private valueStarts(isContainer: boolean, isObject: boolean): Role {
		const parent = this.stack[this.stack.length - 1];
		if (parent === undefined) {
			this.rootIsObject = isObject && isContainer;
			return 'root';
		}
		switch (parent.role) {
			case 'root':
				if (parent.key === 'info' && isObject) {
					this.sawInfo = true;
					return 'info';
				}
				if (parent.key === 'data' && isContainer && !isObject) {
					this.sawData = true;
					return 'data';
				}
				return 'other';
			case 'data':
				this.entriesPerGroup.push(isContainer && !isObject ? 0 : 1);
				return isContainer && !isObject ? 'group' : 'other';
			case 'group':
				this.entriesPerGroup[this.entriesPerGroup.length - 1]++;
				return 'other';
			default:
				return 'other';
		}
	}

	private readStructureByte(byte: number): void {
		switch (byte) {
			case 0x7b: // {
			case 0x5b: {
				// [
				const isObject = byte === 0x7b;
				const role = this.valueStarts(true, isObject);
				this.stack.push({ isObject, role, key: undefined, awaitingKey: isObject });
				if (role === 'other') this.skipDepth = 1;
				return;
			}
			case 0x7d: // }
			case 0x5d: // ]
				this.stack.pop();
				return;
			case 0x3a: // :
				this.stack[this.stack.length - 1].awaitingKey = false;
				return;
			case 0x2c: {
				// ,
				const top = this.stack[this.stack.length - 1];
				if (top?.isObject) top.awaitingKey = true;
				return;
			}
			case QUOTE: {
				const top = this.stack[this.stack.length - 1];
				this.inString = true;
				if (top?.isObject && top.awaitingKey) {
					this.capturingKey = true;
					this.captured = top.role === 'root' || top.role === 'info' ? [] : undefined;
					return;
				}
				this.valueStarts(false, false);
				if (top?.role === 'info' && (top.key === 'type' || top.key === 'id')) this.captured = [];
				return;
			}
			default:
				if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) return;
				this.valueStarts(false, false);
				this.literal = String.fromCharCode(byte);
		}
	}
}

/** The next quote from `from` on, or -1: short strings by a plain loop, long ones by indexOf. */
function nextQuote(chunk: Uint8Array, from: number): number {
	const near = Math.min(chunk.length, from + 32);
	for (let i = from; i < near; i++) if (chunk[i] === QUOTE) return i;
	return near === chunk.length ? -1 : chunk.indexOf(QUOTE, near);
}

/** How many backslashes stand right before `end`, not looking before `start`. */
function backslashesBefore(chunk: Uint8Array, start: number, end: number): number {
	let i = end;
	while (i > start && chunk[i - 1] === BACKSLASH) i--;
	return end - i;
}

function isLiteralEnd(byte: number): boolean {
	return (
		byte === 0x2c || byte === 0x5d || byte === 0x7d || byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09
	);
}

function parseJsonOrUndefined(text: string): unknown {
	try {
		return JSON.parse(text) as unknown;
	} catch {
		return undefined;
	}
}

/**
 * Whether a file's info names this data subject: the same type and id. Email addresses are
 * compared without regard to case, as mail systems (and so possibly Copernica) treat them.
 */
export function isFileOf(info: DataFileInfo, subjectType: string, subject: string): boolean {
	if (info.type !== subjectType) return false;
	const id = String(info.id).trim();
	const wanted = subject.trim();
	return subjectType === 'email' ? id.toLowerCase() === wanted.toLowerCase() : id === wanted;
}
