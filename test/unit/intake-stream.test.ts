import { createHash } from 'crypto';

import { BodyBuffer, BodyMeter, BodyTooLarge } from '../../nodes/Copernica/intake/bodyReader';
import { NonceMemory } from '../../nodes/Copernica/intake/nonces';

/** Chunks of `size` bytes, `count` of them, counting how many were taken. */
function source(count: number, size: number) {
	const taken = { chunks: 0 };
	const chunks = (async function* () {
		for (let i = 0; i < count; i++) {
			taken.chunks++;
			yield Buffer.alloc(size, i % 256);
		}
	})();
	return { chunks, taken };
}

async function drain(chunks: AsyncIterable<Buffer>) {
	const seen: Buffer[] = [];
	for await (const chunk of chunks) seen.push(chunk);
	return Buffer.concat(seen);
}

describe('BodyMeter', () => {
	it('passes a body within the limit on unchanged, counted and hashed', async () => {
		const { chunks } = source(4, 1000);
		const meter = new BodyMeter(4000);
		const body = await drain(meter.pass(chunks));
		expect(body.length).toBe(4000);
		expect(meter.bytes).toBe(4000);
		expect(meter.sha256.equals(createHash('sha256').update(body).digest())).toBe(true);
	});

	it('stops at the chunk that passes the limit: nothing after it is read', async () => {
		const { chunks, taken } = source(100, 1000);
		const meter = new BodyMeter(2500);
		const passed: number[] = [];
		await expect(
			(async () => {
				for await (const chunk of meter.pass(chunks)) passed.push(chunk.length);
			})(),
		).rejects.toBeInstanceOf(BodyTooLarge);
		expect(passed).toEqual([1000, 1000]);
		expect(taken.chunks).toBe(3);
		expect(() => meter.sha256).toThrow(/not been read/);
	});

	it('takes Uint8Arrays that are not Buffers', async () => {
		const meter = new BodyMeter(10);
		const body = await drain(
			meter.pass(
				(async function* () {
					yield new Uint8Array([1, 2, 3]);
				})(),
			),
		);
		expect([...body]).toEqual([1, 2, 3]);
	});
});

describe('BodyBuffer', () => {
	it('fills one buffer of the announced length', () => {
		const buffer = new BodyBuffer(6);
		buffer.add(Buffer.from('abc'));
		buffer.add(Buffer.from('def'));
		expect(buffer.result().toString()).toBe('abcdef');
	});
	it('copes with a body shorter or longer than announced, or not announced', () => {
		const short = new BodyBuffer(10);
		short.add(Buffer.from('abc'));
		expect(short.result().toString()).toBe('abc');
		const long = new BodyBuffer(4);
		for (const part of ['abc', 'def', 'g']) long.add(Buffer.from(part));
		expect(long.result().toString()).toBe('abcdefg');
		const unknown = new BodyBuffer(undefined);
		for (const part of ['ab', 'cd']) unknown.add(Buffer.from(part));
		expect(unknown.result().toString()).toBe('abcd');
		expect(new BodyBuffer(0).result().length).toBe(0);
	});
});

describe('NonceMemory', () => {
	it('knows a nonce again until it expires', () => {
		const memory = new NonceMemory(120_000, 100);
		expect(memory.seenBefore('a', 0)).toBe(false);
		expect(memory.seenBefore('a', 119_999)).toBe(true);
		expect(memory.seenBefore('b', 60_000)).toBe(false);
		// 'a' has expired: it is new again (and its Date could not pass any more anyway)
		expect(memory.seenBefore('a', 120_000)).toBe(false);
		expect(memory.seenBefore('b', 120_000)).toBe(true);
	});
	it('drops expired nonces, and never holds more than its maximum', () => {
		const memory = new NonceMemory(1000, 3);
		for (const nonce of ['a', 'b', 'c']) memory.seenBefore(nonce, 0);
		expect(memory.size).toBe(3);
		memory.seenBefore('d', 1);
		expect(memory.size).toBe(3);
		// the oldest went first
		expect(memory.seenBefore('a', 2)).toBe(false);
		expect(memory.seenBefore('d', 3)).toBe(true);
		memory.seenBefore('e', 5000);
		expect(memory.size).toBe(1);
	});
});
