import { createHash } from 'crypto';

/**
 * The same file for the same report URL parameters (the ticket, say) gives the same key: a
 * Remove Duplicates node after the trigger ("Remove Items Processed in Previous Executions") lets
 * each delivery through once. n8n keeps that history in its database, for every process in queue
 * mode, where a trigger's own state (workflow static data) is not reliably saved.
 *
 * @param fileSha256 the SHA-256 (hex) of the file's bytes: the file itself may never be in memory
 */
export function deliveryKey(fileSha256: string, query: Record<string, unknown>): string {
	const parameters = Object.keys(query)
		.sort()
		.map((name) => `${name}=${JSON.stringify(query[name])}`)
		.join('&');
	return createHash('sha256').update(`${parameters}\n${fileSha256}`, 'utf8').digest('hex');
}
