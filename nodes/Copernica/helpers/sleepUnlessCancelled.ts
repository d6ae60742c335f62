import { sleep } from 'n8n-workflow';

/**
 * Waits `ms`, or less: returns at once when the execution is cancelled (the caller then stops
 * calling Copernica). n8n-workflow's own sleepWithAbort is not exported by every n8n line (2.x
 * moved it), so this builds on `sleep`, which all lines have.
 */
export async function sleepUnlessCancelled(ms: number, signal: AbortSignal | undefined): Promise<void> {
	if (signal?.aborted) return;
	await new Promise<void>((resolve) => {
		const done = () => {
			signal?.removeEventListener('abort', done);
			resolve();
		};
		signal?.addEventListener('abort', done, { once: true });
		void sleep(ms).then(done);
	});
}
