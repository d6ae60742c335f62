// The example workflows (examples/*.json) made ready for one running n8n, for the demo and the
// end-to-end tests alike. The examples ship without secrets, webhook ids or table ids (an
// instance that imports them unchanged must not be open); here:
// - webhook nodes get webhook ids of their own;
// - example 2's trigger gets a random secret, and example 1's report the trigger's production
//   URL and that secret in place of its placeholders;
// - the data table of example 1's audit trail is created, and its id filled in.
// Workflows are created through n8n's public API, as a user's tooling would.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const EXAMPLES = path.join(__dirname, '..', 'examples');
const WEBHOOK_NODE_TYPES = ['n8n-nodes-base.webhook', 'n8n-nodes-copernica.copernicaDataRequestTrigger'];
const TRIGGER_NODE = 'n8n-nodes-copernica.copernicaDataRequestTrigger';
const DATA_TABLE_NODE = 'n8n-nodes-base.dataTable';
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

/**
 * Creates every example in `n8n` (a running instance from test/e2e/n8n.js) with the credential
 * `credential` ({ id, name }) and returns { workflows: { [file]: created }, secret, triggerUrl, table }.
 */
async function createExamples(n8n, credential) {
	const examples = fs
		.readdirSync(EXAMPLES)
		.filter((file) => file.endsWith('.json'))
		.sort()
		.map((file) => ({ file, workflow: JSON.parse(fs.readFileSync(path.join(EXAMPLES, file), 'utf8')) }));
	const nodes = examples.flatMap(({ workflow }) => workflow.nodes);
	for (const node of nodes) {
		if (WEBHOOK_NODE_TYPES.includes(node.type)) node.webhookId = crypto.randomUUID();
		if (node.credentials?.copernicaApi) node.credentials.copernicaApi = credential;
	}
	const secret = crypto.randomBytes(24).toString('base64url');
	const trigger = nodes.find((node) => node.type === TRIGGER_NODE);
	trigger.parameters.secret = secret;
	const triggerUrl = `${n8n.baseUrl}/webhook/${trigger.webhookId}/copernica-data-request`;
	for (const node of nodes) {
		if (typeof node.parameters?.report !== 'string') continue;
		node.parameters.report = node.parameters.report
			.replaceAll(REPORT_URL_PLACEHOLDER, triggerUrl)
			.replaceAll(REPORT_SECRET_PLACEHOLDER, encodeURIComponent(secret));
	}
	const table = nodes.some((node) => node.type === DATA_TABLE_NODE) ? await createAuditTable(n8n) : undefined;
	for (const node of nodes) {
		if (node.type !== DATA_TABLE_NODE || node.parameters.dataTableId?.cachedResultName !== table.name) continue;
		node.parameters.dataTableId = {
			...node.parameters.dataTableId,
			value: table.id,
			cachedResultUrl: `/projects/${table.projectId}/datatables/${table.id}`,
		};
	}
	const workflows = {};
	for (const { file, workflow } of examples) {
		const { name, nodes: workflowNodes, connections, settings } = workflow;
		workflows[file] = (await n8n.api('POST', '/workflows', { name, nodes: workflowNodes, connections, settings })).body;
	}
	return { workflows, secret, triggerUrl, table };
}

/** The examples with a webhook (ticket intake, the trigger), to activate. */
const webhookWorkflows = (created) =>
	Object.values(created.workflows).filter((workflow) => workflow.nodes.some((node) => WEBHOOK_NODE_TYPES.includes(node.type)));

module.exports = { createExamples, webhookWorkflows, AUDIT_TABLE };
