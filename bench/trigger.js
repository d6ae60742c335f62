'use strict';
/**
 * Benchmark 4, the trigger: Copernica (the sandbox) POSTs a finished data request file of 16, 100
 * or 500 MB to the Copernica Data Request Trigger's production webhook; measured are the time from
 * the start of the POST to the end of the workflow's execution, and the peak RSS of n8n's process
 * group (sampled every 100 ms) against the RSS before, as a multiple of the file size.
 * N8N_PAYLOAD_SIZE_MAX is left at n8n's default (16 MB): the trigger reads the body from the request
 * stream itself (options.binaryData), and its own limit is raised to 600 MB here.
 *
 * Cases: Return File As binary (the file streams into n8n's filesystem binary store) and JSON (the
 * file's data in the item); `wait-binary` and `wait-json` are the same for Create and Wait, whose
 * execution waits and is continued by Copernica's report POST to its resume URL (the same intake;
 * JSON is refused above 64 MB there, as the node has no size option); `probe-json` is n8n's own cost
 * for a webhook's item that size: the bench probe's webhook trigger takes the same POST with the
 * least possible intake (read, join, parse) and outputs the file as the item's JSON; `probe-wait`
 * is n8n's own cost of a resumed execution with the file: an HTTP Request node creates the data
 * request with `$execution.resumeUrl` as its report address, and n8n's Wait node (On Webhook
 * Call, Binary File) takes the report POST into the binary store. Each case gets a fresh n8n.
 * A case whose n8n dies is reported as such.
 *
 *   node bench/trigger.js [--cases binary:16,binary:100,json:16,wait-binary:100,wait-json:16,probe-json:16]   (after npm run build)
 */
const { MB, TRIGGER_TYPE, log, sleep, startSandboxProcess, startBenchN8n, sampleRss, settledRss, groupCpuMs, mb, fixed, table, chain, copernicaNode, httpRequestNode, binaryBytes } =
	require('./lib');

const SECRET = 'bench-trigger-secret-5d2c9e71';
const WEBHOOK_IDS = {
	binary: 'b3c0e0a1-5c1e-4b8e-9a51-000000000b1a',
	json: 'b3c0e0a1-5c1e-4b8e-9a51-000000000a50',
	'probe-json': 'b3c0e0a1-5c1e-4b8e-9a51-0000000000b0',
};
const PROBE_TYPE = 'n8n-nodes-bench-probe.benchWebhookProbe';
const webhookPath = (mode) => `webhook/${WEBHOOK_IDS[mode]}/${mode === 'probe-json' ? 'bench-probe' : 'copernica-data-request'}`;

function probeWorkflow() {
	const probe = { id: 'p1', name: 'Probe', type: PROBE_TYPE, typeVersion: 1, position: [0, 0], webhookId: WEBHOOK_IDS['probe-json'], parameters: { options: { binaryData: true } } };
	return { name: 'bench: webhook probe (JSON item)', nodes: [probe], connections: {}, settings: { executionOrder: 'v1' } };
}

function triggerWorkflow(mode) {
	return {
		name: `bench: trigger (${mode})`,
		nodes: [
			{
				id: 't1',
				name: 'Copernica file arrives',
				type: TRIGGER_TYPE,
				typeVersion: 1,
				position: [0, 0],
				webhookId: WEBHOOK_IDS[mode],
				parameters: { secret: SECRET, returnAs: mode, options: { binaryData: true, maxBodySizeMb: 600 } },
			},
		],
		connections: {},
		settings: { executionOrder: 'v1' },
	};
}

/** Create and Wait for one email address: the execution waits until the report POST arrives. */
function createAndWaitWorkflow(mode, email) {
	const returnAs = mode === 'wait-json' ? 'json' : 'binary';
	const parameters = { operation: 'createAndWait', subjectType: 'email', subject: email, returnAs, binaryPropertyName: 'data', options: { binaryData: true } };
	return chain(`bench: create and wait (${returnAs})`, [copernicaNode('Create and Wait', parameters)]);
}

/** n8n alone: the HTTP Request node creates the request, reporting to the resume URL of n8n's Wait node. */
function waitNodeWorkflow(sandbox, email) {
	const create = httpRequestNode('Create', {
		method: 'POST',
		url: `${sandbox.url}/v3/email/${encodeURIComponent(email)}/datarequest`,
		jsonBody: '={{ JSON.stringify({ report: $execution.resumeUrl }) }}',
	});
	const wait = { name: 'Wait', type: 'n8n-nodes-base.wait', typeVersion: 1, parameters: { resume: 'webhook', httpMethod: 'POST', options: { binaryData: true, binaryPropertyName: 'data' } } };
	return chain("bench: n8n's Wait node takes the report", [create, wait]);
}

/** The bytes the run's output says it received, from the trigger's, Create and Wait's or the probe's item. */
function receivedBytes(mode, runData) {
	if (mode === 'probe-json') return runData?.Probe?.[0]?.data?.main?.[0]?.[0]?.json?.contentLength;
	if (mode === 'probe-wait') return binaryBytes(runData?.Wait?.[0]?.data?.main?.[0]?.[0]?.binary?.data);
	if (!mode.startsWith('wait-')) return runData?.['Copernica file arrives']?.[0]?.data?.main?.[0]?.[0]?.json?.contentLength;
	const item = runData?.['Create and Wait']?.[0]?.data?.main?.[0]?.[0];
	return item?.json?.summary?.bytes ?? item?.json?.contentLength;
}

/**
 * @returns rows: { mode, sizeMb, bytes, receiveMs, totalMs, baseline, peak, growth, multiple, cpuMs, ok }
 */
const DEFAULT_CASES = [['binary', 16], ['binary', 100], ['binary', 500], ['json', 16], ['json', 100]];

async function benchTrigger({ sandbox, cases = DEFAULT_CASES, major = 2 }) {
	const rows = [];
	// A fresh n8n per case: V8 keeps the heap it grew for one file, which would hide the next one's.
	for (const [mode, sizeMb] of cases) {
		const probe = mode === 'probe-json';
		const n8n = await startBenchN8n(sandbox, {
			major,
			binaryDataMode: 'filesystem',
			probe,
			env: {
				...(process.env.BENCH_N8N_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_N8N_NODE_OPTIONS } : {}),
			},
		});
		try {
			const waits = mode.startsWith('wait-') || mode === 'probe-wait';
			const email = `trigger-${mode}-${sizeMb}@example.com`;
			const workflow = (await n8n.api('POST', '/workflows', probe ? probeWorkflow() : mode === 'probe-wait' ? waitNodeWorkflow(sandbox, email) : waits ? createAndWaitWorkflow(mode, email) : triggerWorkflow(mode))).body;
			if (!waits) {
				await n8n.activate(workflow.id);
				await n8n.waitForWebhook(webhookPath(mode));
			}
			await sleep(5000); // let the start settle
			await sandbox.reset();
			// Create and Wait's file is ready a few seconds after the create, so the execution waits first.
			await sandbox.setOptions({ fileSize: sizeMb * MB, readyAfterMs: waits ? 3000 : 0, reportTimeoutMs: 300_000, reportRetries: 0 });
			const report = `${n8n.baseUrl}/${webhookPath(mode)}?secret=${SECRET}`;
			const baseline = await settledRss(n8n);
			const cpu0 = groupCpuMs(n8n);
			const sampler = sampleRss(n8n, 100);
			const t0 = Date.now();
			if (waits) n8n.executeWorkflow(workflow.id, { timeoutMs: 10 * 60_000 }).catch(() => {}); // judged below, like the trigger's
			else await sandbox.createDataRequest(email, report);
			let execution;
			try {
				[execution] = await n8n.waitForExecutions(workflow.id, 1, 10 * 60_000, {
					done: (e) => e.finished === true || ['success', 'error', 'crashed'].includes(e.status),
				});
			} catch (error) {
				// n8n did not survive the file (or never ran it): say so, with the memory seen until then.
				const { peak } = sampler.stop();
				const delivery = (await sandbox.state()).deliveries[0];
				const row = { mode, sizeMb, baseline, peak, growth: peak - baseline, multiple: (peak - baseline) / (sizeMb * MB), ok: false };
				row.error = `${error.message.slice(0, 200)}; delivery ${JSON.stringify(delivery)?.slice(0, 200)}; n8n log: ${n8n.logTail(5).replace(/\s+/g, ' ').slice(0, 300)}`;
				log(`trigger ${mode} ${sizeMb} MB: FAILED, RSS ${mb(baseline)} -> ${mb(peak)} MB: ${row.error}`);
				rows.push(row);
				continue;
			}
			await sleep(500);
			const { peak } = sampler.stop();
			const cpuMs = groupCpuMs(n8n) - cpu0;
			const delivery = (await sandbox.state()).deliveries[0];
			const postStart = delivery ? new Date(delivery.time).getTime() : t0;
			const full = await n8n.execution(execution.id);
			const bytes = receivedBytes(mode, full.data?.resultData?.runData);
			const ok = full.status === 'success' && delivery?.ok === true && bytes >= sizeMb * MB;
			const row = {
				mode,
				sizeMb,
				bytes,
				// Create and Wait's execution starts before the POST.
				receiveMs: waits ? undefined : new Date(full.startedAt).getTime() - postStart,
				totalMs: new Date(full.stoppedAt).getTime() - postStart,
				baseline,
				peak,
				growth: peak - baseline,
				multiple: (peak - baseline) / (sizeMb * MB),
				cpuMs,
				ok,
			};
			if (!ok) row.error = `execution ${full.status}, delivery ${JSON.stringify(delivery)?.slice(0, 200)}`;
			log(
				`trigger ${mode} ${sizeMb} MB: execution starts ${row.receiveMs} ms after the POST started, done after ${row.totalMs} ms, ` +
					`RSS ${mb(baseline)} -> ${mb(peak)} MB (+${mb(row.growth)}, ${fixed(row.multiple)}x the file), n8n CPU ${Math.round(cpuMs)} ms, ok ${ok}${row.error ? ` (${row.error})` : ''}`,
			);
			rows.push(row);
		} finally {
			await n8n.stop();
		}
	}
	return rows;
}

function triggerTable(rows) {
	const label = {
		binary: 'trigger, binary (Return File As: Binary File)',
		json: 'trigger, JSON (data in the item)',
		'wait-binary': 'Create and Wait, binary',
		'wait-json': 'Create and Wait, JSON',
		'probe-json': "n8n alone: a webhook probe outputs the same POST as one JSON item",
		'probe-wait': "n8n alone: n8n's Wait node takes the same report as binary",
	};
	return table(
		['file', 'node and output', 'POST start → execution starts', 'POST start → execution done', 'peak RSS (growth)', 'growth ÷ file size'],
		rows.map((r) => [
			`${r.sizeMb} MB`,
			label[r.mode],
			r.receiveMs === undefined ? '—' : `${fixed(r.receiveMs / 1000, 2)} s`,
			r.totalMs === undefined ? 'FAILED (no execution)' : `${fixed(r.totalMs / 1000, 2)} s${r.ok ? '' : ' FAILED'}`,
			`${mb(r.peak)} MB (+${mb(r.growth)})`,
			`${fixed(r.multiple)}×`,
		]),
	);
}

module.exports = { benchTrigger, triggerTable, DEFAULT_CASES };

if (require.main === module) {
	const at = process.argv.indexOf('--cases');
	const cases = (at === -1 ? DEFAULT_CASES.map((c) => c.join(':')).join(',') : process.argv[at + 1]).split(',').map((c) => {
		const [mode, size] = c.split(':');
		return [mode, Number(size)];
	});
	(async () => {
		const sandbox = await startSandboxProcess();
		try {
			console.log(triggerTable(await benchTrigger({ sandbox, cases })));
		} finally {
			await sandbox.close();
		}
	})().catch((error) => {
		console.error(error);
		process.exit(1);
	});
}
