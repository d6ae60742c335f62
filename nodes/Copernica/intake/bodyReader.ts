/**
 * Reads a request body chunk by chunk as it arrives, to a byte limit: the limit is found passed on
 * the first chunk that crosses it, not after the upload, and nothing further is read. The bytes are
 * hashed on the way (for the Digest header) and passed on, to n8n's binary store or into one buffer.
 */
import { createHash } from 'crypto';

/** Thrown (through whoever reads the chunks) when the body passes the limit. */
export class BodyTooLarge extends Error {
	constructor(readonly maxBytes: number) {
		super(`The body is larger than ${maxBytes} bytes`);
	}
}

export class BodyMeter {
	bytes = 0;
	private readonly hash = createHash('sha256');
	private digest: Buffer | undefined;

	constructor(private readonly maxBytes: number) {}

	/** The chunks as Buffers, counted and hashed; throws BodyTooLarge instead of passing the limit. */
	async *pass(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
		for await (const chunk of chunks) {
			this.bytes += chunk.length;
			if (this.bytes > this.maxBytes) throw new BodyTooLarge(this.maxBytes);
			const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
			this.hash.update(buffer);
			yield buffer;
		}
		this.digest = this.hash.digest();
	}

	/** SHA-256 of the whole body, once pass() has gone through it. */
	get sha256(): Buffer {
		if (this.digest === undefined) throw new Error('The body has not been read to its end');
		return this.digest;
	}
}

/**
 * Collects chunks into one buffer. With the length known beforehand, the buffer is made once and
 * each chunk copied in (the chunks can go at once): the body is held once, not twice.
 */
export class BodyBuffer {
	private readonly chunks: Buffer[] = [];
	private readonly whole: Buffer | undefined;
	private filled = 0;

	constructor(expectedLength?: number) {
		if (expectedLength !== undefined && Number.isSafeInteger(expectedLength) && expectedLength > 0) {
			this.whole = Buffer.allocUnsafe(expectedLength);
		}
	}

	add(chunk: Buffer): void {
		if (this.whole && this.chunks.length === 0 && this.filled + chunk.length <= this.whole.length) {
			chunk.copy(this.whole, this.filled);
		} else {
			// More than announced (or nothing announced): keep the chunks and join them at the end.
			if (this.whole && this.chunks.length === 0 && this.filled > 0) this.chunks.push(this.whole.subarray(0, this.filled));
			this.chunks.push(chunk);
		}
		this.filled += chunk.length;
	}

	result(): Buffer {
		if (this.chunks.length > 0) return Buffer.concat(this.chunks, this.filled);
		return this.whole ? this.whole.subarray(0, this.filled) : Buffer.alloc(0);
	}
}
