#!/usr/bin/env node
// `npm start`: the product on this machine. Builds and packs the package, starts the local
// Copernica sandbox, installs n8n the first time (cached afterwards), starts it with the package
// installed as a community package, a credential and the example workflows, and prints the editor
// URL and login. With COPERNICA_ACCESS_TOKEN set, the credential points at the real Copernica
// (COPERNICA_BASE_URL, default https://api.copernica.com) instead of the sandbox.
// Ctrl-C stops everything.
const path = require('path');
const { execFileSync } = require('child_process');

const { ensureN8n } = require('../test/e2e/install-n8n');
const { startN8n, packPackage } = require('../test/e2e/n8n');
const { startSandbox } = require('../test/sandbox');
const { AUDIT_TABLE, createExamples, webhookWorkflows } = require('./examples');

const ROOT = path.resolve(__dirname, '..');
const PORT = Number(process.env.N8N_DEMO_PORT || 5678); // the example workflows use this port
const MAJOR = Number(process.env.N8N_DEMO_MAJOR || 2);
const SANDBOX_PORT = Number(process.env.SANDBOX_PORT || 8765);
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
		credential = { accessToken: sandbox.token, baseUrl: sandbox.url, authenticationUrl: `${sandbox.url}/authenticate` };
	}

	console.log(`Installing n8n ${MAJOR}.x if needed (first time: several minutes)...`);
	ensureN8n(MAJOR);
	const credentialRef = { id: 'copernicaSandbox', name: 'Copernica (sandbox)' };
	const n8n = await startN8n({
		major: MAJOR,
		port: PORT,
		ui: true,
		logLevel: 'info',
		keepUserFolder: false,
		packageTarball: tarball,
		credentials: [{ ...credentialRef, type: 'copernicaApi', data: credential }],
	});
	const examples = await createExamples(n8n, credentialRef);
	console.log(`Data table "${examples.table.name}" created (${n8n.baseUrl}/projects/${examples.table.projectId}/datatables/${examples.table.id}).`);
	// Activate the webhook workflows (ticket intake and the trigger) while running.
	for (const workflow of webhookWorkflows(examples)) await n8n.activate(workflow.id);

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
     (The trigger's secret, made for this run and in example 1's report URL too: "${examples.secret}".)

Ctrl-C stops everything.`);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
