#!/usr/bin/env node
// `npm start`: the product on this machine. Builds and packs the package, starts the local
// Copernica sandbox, installs n8n the first time (cached afterwards), starts it with the package
// installed as a community package, a credential and the example workflows, and prints the editor
// URL and login. With COPERNICA_ACCESS_TOKEN set, the credential points at the real Copernica
// (COPERNICA_BASE_URL, default https://api.copernica.com) instead of the sandbox.
// Ctrl-C stops everything.
const fs = require('fs');
const crypto = require('crypto');
const path = require('path');
const { execFileSync } = require('child_process');

const { ensureN8n } = require('../test/e2e/install-n8n');
const { startN8n, packPackage } = require('../test/e2e/n8n');
const { startSandbox } = require('../test/sandbox');

const ROOT = path.resolve(__dirname, '..');
const PORT = Number(process.env.N8N_DEMO_PORT || 5678); // the example workflows use this port
const MAJOR = Number(process.env.N8N_DEMO_MAJOR || 2);
const SANDBOX_PORT = Number(process.env.SANDBOX_PORT || 8765);
const SECRET = 'change-me-to-a-long-random-value';
const WEBHOOK_NODE_TYPES = ['n8n-nodes-base.webhook', 'n8n-nodes-copernica.copernicaDataRequestTrigger'];
const DATA_TABLE_NODE = 'n8n-nodes-base.dataTable';
const TRIGGER_NODE = 'n8n-nodes-copernica.copernicaDataRequestTrigger';
// What example 1's Report holds until someone puts example 2's trigger URL and secret there.
const REPORT_URL_PLACEHOLDER = 'PRODUCTION-URL-OF-THE-TRIGGER';
const REPORT_SECRET_PLACEHOLDER = 'SECRET-OF-THE-TRIGGER';
// Example 1's audit trail: one row per data request, never the file's contents.
const AUDIT_TABLE = {
	name: 'GDPR access requests',
	columns: [
		{ name: 'ticket', type: 'string' },
		{ name: 'requestId', type: 'string' },
		{ name: 'subject', type: 'string' },
		{ name: 'requestedAt', type: 'date' },
		{ name: 'dueBy', type: 'date' },
	],
};

/** Creates the audit data table in the owner's project, through the REST API the editor uses. */
async function createAuditTable(n8n) {
	const project = (await n8n.rest('GET', '/projects/personal')).body.data;
	const table = (await n8n.rest('POST', `/projects/${project.id}/data-tables`, AUDIT_TABLE)).body.data;
	return { ...table, projectId: project.id };
}

/** Creates a workflow through n8n's public API, its Data table nodes pointed at `table`. */
async function createWithDataTable(n8n, workflow, table) {
	for (const node of workflow.nodes) {
		if (node.type !== DATA_TABLE_NODE || node.parameters.dataTableId?.cachedResultName !== table.name) continue;
		node.parameters.dataTableId = {
			...node.parameters.dataTableId,
			value: table.id,
			cachedResultUrl: `/projects/${table.projectId}/datatables/${table.id}`,
		};
	}
	const { name, nodes, connections, settings } = workflow;
	return (await n8n.api('POST', '/workflows', { name, nodes, connections, settings })).body;
}

async function main() {
	console.log('Building the package...');
	execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
	const tarball = packPackage(ROOT);

	const realToken = process.env.COPERNICA_ACCESS_TOKEN;
	let sandbox;
	let credential;
	if (realToken) {
		credential = { accessToken: realToken, baseUrl: process.env.COPERNICA_BASE_URL || 'https://api.copernica.com' };
	} else {
		// Files take 5 s to assemble, so that "pending" can be seen too.
		sandbox = await startSandbox({ port: SANDBOX_PORT, token: 'sandbox-demo-token', readyAfterMs: 5000, fileSize: 50_000 });
		credential = { accessToken: sandbox.token, baseUrl: sandbox.url };
	}

	console.log(`Installing n8n ${MAJOR}.x if needed (first time: several minutes)...`);
	ensureN8n(MAJOR);
	const workflows = fs
		.readdirSync(path.join(ROOT, 'examples'))
		.filter((file) => file.endsWith('.json'))
		.sort()
		.map((file) => JSON.parse(fs.readFileSync(path.join(ROOT, 'examples', file), 'utf8')));
	// Examples may ship without webhook ids (the editor's Import gives such nodes new ones): the
	// demo gives them one too, so that their production URLs are the ones the README shows.
	for (const node of workflows.flatMap((workflow) => workflow.nodes)) {
		if (!node.webhookId && WEBHOOK_NODE_TYPES.includes(node.type)) node.webhookId = crypto.randomUUID();
	}
	// Example 2's trigger ships without a secret, example 1's report with placeholders for the
	// trigger's Production URL and secret: the demo makes a random secret and fills both in.
	const trigger = workflows.flatMap((workflow) => workflow.nodes).find((node) => node.type === TRIGGER_NODE);
	if (trigger) {
		if (!trigger.parameters.secret) trigger.parameters.secret = crypto.randomBytes(24).toString('base64url');
		const productionUrl = `http://127.0.0.1:${PORT}/webhook/${trigger.webhookId}/copernica-data-request`;
		for (const node of workflows.flatMap((workflow) => workflow.nodes)) {
			if (typeof node.parameters?.report !== 'string') continue;
			node.parameters.report = node.parameters.report
				.replaceAll(REPORT_URL_PLACEHOLDER, productionUrl)
				.replaceAll(REPORT_SECRET_PLACEHOLDER, encodeURIComponent(trigger.parameters.secret));
		}
	}
	// Workflows that write to a data table (example 1's audit trail) are created once n8n runs and
	// the table exists, with the table's id filled in (createWithDataTable below).
	const tableWorkflows = workflows.filter((workflow) => workflow.nodes.some((node) => node.type === DATA_TABLE_NODE));
	for (const workflow of tableWorkflows) workflows.splice(workflows.indexOf(workflow), 1);
	const n8n = await startN8n({
		major: MAJOR,
		port: PORT,
		ui: true,
		logLevel: 'info',
		keepUserFolder: false,
		packageTarball: tarball,
		credentials: [
			{ id: 'copernicaSandbox', name: 'Copernica (sandbox)', type: 'copernicaApi', data: credential },
		],
		workflows,
	});
	if (tableWorkflows.length) {
		const table = await createAuditTable(n8n);
		console.log(`Data table "${table.name}" created (${n8n.baseUrl}/projects/${table.projectId}/datatables/${table.id}).`);
		for (const workflow of tableWorkflows) n8n.workflows.push(await createWithDataTable(n8n, workflow, table));
	}
	// Activate the webhook workflows (ticket intake and the trigger) while running.
	for (const workflow of n8n.workflows.filter((w) => w.nodes.some((node) => node.webhookId))) {
		await n8n.activate(workflow.id);
	}

	const stop = async () => {
		console.log('\nStopping n8n and the sandbox...');
		await n8n.stop();
		await sandbox?.close();
		process.exit(0);
	};
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);

	console.log(`
n8n ${n8n.version} is running with n8n-nodes-copernica.

  Editor:   ${n8n.baseUrl}
  Login:    ${n8n.owner.email} / ${n8n.owner.password}
  Copernica: ${sandbox ? `local sandbox at ${sandbox.url} (token ${sandbox.token})` : credential.baseUrl}

Try it:
  1. Open "Copernica data request: create, then get the file" and click "Execute workflow".
     The sandbox takes 5 seconds to assemble a file; "Get the file" waits for it and returns it.
  2. File a ticket and watch the report come back to the trigger workflow:
     curl -X POST ${n8n.baseUrl}/webhook/gdpr-access-request -H 'content-type: application/json' \\
       -d '{"ticket":"T-1001","email":"someone@example.com"}'
     then open Executions of "GDPR access request: Copernica file -> reply with attachment".
     The request is recorded as a row of the data table "${AUDIT_TABLE.name}" (Overview -> Data tables).
     (The trigger's secret, made for this run and in example 1's report URL too: "${trigger?.parameters.secret}".)

Ctrl-C stops everything.`);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
