/**
 * Nonces of signed deliveries seen lately, so that a captured delivery sent again while its
 * signature's Date is still accepted is refused. Entries are dropped once that Date can no longer
 * pass, and there are never more than `maxEntries` (the oldest go first). This memory is the
 * process's own: n8n's other webhook processes (queue mode) each have theirs.
 */
export class NonceMemory {
	// Insertion order is expiry order: every entry lives the same time.
	private readonly expiries = new Map<string, number>();

	constructor(
		private readonly lifetimeMs: number,
		private readonly maxEntries: number,
	) {}

	/** Records a nonce at `now`; true when it was already seen and has not expired. */
	seenBefore(nonce: string, now: number): boolean {
		for (const [seen, expiry] of this.expiries) {
			if (expiry > now) break;
			this.expiries.delete(seen);
		}
		const expiry = this.expiries.get(nonce);
		if (expiry !== undefined && expiry > now) return true;
		while (this.expiries.size >= this.maxEntries) {
			const oldest = this.expiries.keys().next().value as string;
			this.expiries.delete(oldest);
		}
		this.expiries.set(nonce, now + this.lifetimeMs);
		return false;
	}

	get size(): number {
		return this.expiries.size;
	}
}
