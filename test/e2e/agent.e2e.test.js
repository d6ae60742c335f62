// The action node as an AI agent's tool, in real n8n 2.x: the tool variant n8n makes of a node
// with `usableAsTool: true` (`n8n-nodes-copernica.copernicaDataRequestTool`) hangs under n8n's own
// AI Agent, whose model is n8n's OpenAI Chat Model pointed (credential Base URL) at a scripted
// OpenAI stand-in on 127.0.0.1 (fixtures/scripted-openai.js). The stand-in calls the tool for
// dsar-agent@example.com, then answers with the id it finds in the tool's result. The Copernica
// sandbox stands in for Copernica.
//
// What is checked: one data request was created, for that address; the tool's result went back
// to the model and the agent's answer carries the created id; what n8n offered the model as the
// tool (name, description, JSON schema of the $fromAI parameters); that the tool variant does not
// offer "Create and Wait" (an agent's tool call cannot pause the execution) and refuses it when a
// workflow sets it anyway; the same tool call with the agent streaming (behind a Webhook with
// Respond: Streaming, the model is asked with `stream: true`); no access token anywhere in what
// the model saw, the executions, the database or the log.
//
// Set E2E_PACKAGE_DIR to pack another build than the repository's dist/.
const path = require('path');

const { ensureN8n } = require('./install-n8n');
const { countInFile, startN8n, packPackage } = require('./n8n');
const { startSandbox } = require('../sandbox');
const { startScriptedOpenAi } = require('./fixtures/scripted-openai');

const ROOT = path.resolve(__dirname, '..', '..');
const TOKEN = 'e2e-agent-token-9d3e7b1a5c2f';
const EMAIL = 'dsar-agent@example.com';
const COPERNICA_CREDENTIAL_ID = 'copernicaAgentSbx';
const OPENAI_CREDENTIAL_ID = 'openAiScriptedE2E';
const WORKFLOW_ID = 'agentCopernicaE2E';
const REFUSED_WORKFLOW_ID = 'agentCreateWaitE2';
const STREAM_WORKFLOW_ID = 'agentStreamingE2E';
const STREAM_PATH = 'agent-dsar-stream';
const STREAM_EMAIL = 'dsar-stream@example.com';
const TOOL_NODE = 'Copernica Data Request';
// n8n's tool name is the node's name with every run of other characters than [A-Za-z0-9_-]
// replaced by "_" (n8n-workflow nodeNameToToolName).
const TOOL_NAME = 'Copernica_Data_Request';
const EMAIL_DESCRIPTION = 'The email address of the person who asked for their personal data';

jest.setTimeout(15 * 60 * 1000);

const PROMPT = (email) =>
	`A person asked for a copy of their personal data (GDPR right of access). Their email address is ${email}. Open a data request in Copernica and tell me its ID.`;

/**
 * Trigger -> AI Agent, with n8n's OpenAI Chat Model and the Copernica Data Request Tool under it.
 * trigger 'manual': a Manual Trigger, run as the editor's "Execute workflow" button does (the
 * agent then calls the model without streaming). trigger 'stream': a Webhook that answers with
 * "Streaming" (the agent streams, so the model is asked with `stream: true`); the email comes
 * from the posted body.
 */
function agentWorkflow({ id = WORKFLOW_ID, name = 'Agent opens a Copernica data request', operation = 'create', trigger = 'manual' } = {}) {
	const triggerNode =
		trigger === 'manual'
			? { id: 'm1', name: 'Manual', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} }
			: {
					id: 'w1',
					name: 'Webhook',
					type: 'n8n-nodes-base.webhook',
					typeVersion: 2.1,
					position: [0, 0],
					webhookId: '0d7f3c2e-5a41-4b8e-9c6d-3a9e5b7c1f20',
					parameters: { httpMethod: 'POST', path: STREAM_PATH, responseMode: 'streaming', options: {} },
				};
	return {
		id,
		name,
		nodes: [
			triggerNode,
			{
				id: 'a1',
				name: 'AI Agent',
				type: '@n8n/n8n-nodes-langchain.agent',
				typeVersion: 3.1,
				position: [220, 0],
				parameters: {
					promptType: 'define',
					text: trigger === 'manual' ? PROMPT(EMAIL) : `=${PROMPT('{{ $json.body.email }}')}`,
					options: {},
				},
			},
			{
				id: 'l1',
				name: 'OpenAI Chat Model',
				type: '@n8n/n8n-nodes-langchain.lmChatOpenAi',
				// 1.3 is what the editor adds today. It defaults to OpenAI's Responses API (POST
				// /responses); the stand-in speaks Chat Completions, so that is switched off here.
				typeVersion: 1.3,
				position: [120, 220],
				parameters: {
					model: { __rl: true, mode: 'list', value: 'gpt-4o-mini', cachedResultName: 'gpt-4o-mini' },
					responsesApiEnabled: false,
					options: {},
				},
				credentials: { openAiApi: { id: OPENAI_CREDENTIAL_ID, name: 'OpenAI (scripted)' } },
			},
			{
				id: 't1',
				name: TOOL_NODE,
				type: 'n8n-nodes-copernica.copernicaDataRequestTool',
				typeVersion: 1,
				position: [320, 220],
				parameters: {
					operation,
					subjectType: 'email',
					subject: `={{ $fromAI('email', '${EMAIL_DESCRIPTION}', 'string') }}`,
					...(operation === 'create' ? { report: '' } : {}),
				},
				credentials: { copernicaApi: { id: COPERNICA_CREDENTIAL_ID, name: 'Copernica (sandbox)' } },
			},
		],
		connections: {
			[triggerNode.name]: { main: [[{ node: 'AI Agent', type: 'main', index: 0 }]] },
			'OpenAI Chat Model': { ai_languageModel: [[{ node: 'AI Agent', type: 'ai_languageModel', index: 0 }]] },
			[TOOL_NODE]: { ai_tool: [[{ node: 'AI Agent', type: 'ai_tool', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	};
}

/**
 * Whether a displayOptions block lets an element show in the tool variant (version 1), judged on
 * the keys that do not depend on other parameters' values: `@tool` and plain `@version` lists.
 * Any other condition counts as "can show" (it depends on what the user picks).
 */
function showsInToolVariant(displayOptions) {
	if (!displayOptions) return true;
	const known = { '@tool': true, '@version': 1 };
	const matches = (key, values) => !Array.isArray(values) || values.some((v) => (v && typeof v === 'object' ? true : v === known[key]));
	for (const [key, values] of Object.entries(displayOptions.show || {})) {
		if (key in known && !matches(key, values)) return false;
	}
	for (const [key, values] of Object.entries(displayOptions.hide || {})) {
		if (key in known && Array.isArray(values) && values.some((v) => v === known[key])) return false;
	}
	return true;
}

/**
 * A node type as the editor gets it: from /types/nodes.json, which n8n writes at start (in the
 * background) with every node type it offers, the tool variants included. POST /rest/node-types
 * does not know the tool variants ("Unrecognized node type").
 */
async function editorNodeType(instance, name, timeoutMs = 60_000) {
	const deadline = Date.now() + timeoutMs;
	let last;
	while (Date.now() < deadline) {
		const r = await instance.request('GET', '/types/nodes.json', { headers: { cookie: instance.cookie }, allowError: true });
		last = `${r.status} ${r.text.slice(0, 200)}`;
		if (r.status === 200 && Array.isArray(r.body)) {
			const found = r.body.filter((t) => t.name === name);
			if (found.length) return found.find((t) => [].concat(t.version).includes(1)) || found[0];
			last = `${name} not among ${r.body.length} node types`;
		}
		await new Promise((resolve) => setTimeout(resolve, 500));
	}
	throw new Error(`/types/nodes.json gave no ${name} after ${timeoutMs} ms (last: ${last})`);
}

let tarball;
let sandbox;
let llm;
let n8n;
let run; // the manual run of the Create workflow that most tests below look at
let mainChats; // the chat requests n8n sent the model during that run
let mainRequests; // every request the stand-in got during that run
const leakTargets = []; // further executions to search for the token
let toolDescription; // the tool variant's node type description, as n8n serves it to the editor
const timings = {};

beforeAll(async () => {
	const t0 = Date.now();
	ensureN8n(2);
	tarball = packPackage(process.env.E2E_PACKAGE_DIR || ROOT);
	sandbox = await startSandbox({ token: TOKEN, idFormat: 'uuid' });
	llm = await startScriptedOpenAi({
		toolName: TOOL_NAME,
		// The model asks for the address in the user's message (dsar-agent@example.com in the
		// manual runs, the posted one in the streamed run).
		toolArguments: (body) => {
			const user = (body.messages || []).filter((m) => m.role === 'user').pop();
			return { email: /[\w.+-]+@[\w-]+(\.[\w-]+)+/.exec(JSON.stringify(user?.content ?? ''))?.[0] };
		},
		finalAnswer: (toolResult, id) => {
			if (id === undefined) return `I could not open a data request. The tool said: ${toolResult}`;
			const subject = /"subject"\s*:\s*"([^"]*)"/.exec(toolResult)?.[1];
			return `I opened a data request in Copernica for ${subject}. Its ID is ${id}.`;
		},
	});
	const t1 = Date.now();
	n8n = await startN8n({
		major: 2,
		packageTarball: tarball,
		credentials: [
			{ id: COPERNICA_CREDENTIAL_ID, name: 'Copernica (sandbox)', type: 'copernicaApi', data: { apiVersion: 'v3', accessToken: TOKEN, baseUrl: sandbox.url } },
			{ id: OPENAI_CREDENTIAL_ID, name: 'OpenAI (scripted)', type: 'openAiApi', data: { apiKey: llm.apiKey, url: llm.url } },
		],
		workflows: [
			agentWorkflow(),
			// The same agent with the tool set to Create and Wait, as an imported or hand-written
			// workflow could have it (the editor no longer offers it for the tool).
			agentWorkflow({ id: REFUSED_WORKFLOW_ID, name: 'Agent with a Create and Wait tool', operation: 'createAndWait' }),
			agentWorkflow({ id: STREAM_WORKFLOW_ID, name: 'Agent behind a streaming webhook', trigger: 'stream' }),
		],
		// The editor's node list (/types/nodes.json, where n8n puts the tool variants it makes)
		// is only written when the UI is on.
		ui: true,
	});
	timings.n8nStartMs = Date.now() - t1;

	sandbox.reset();
	llm.reset();
	const t2 = Date.now();
	run = await n8n.executeWorkflow(WORKFLOW_ID, { timeoutMs: 120_000 });
	timings.executionMs = Date.now() - t2;
	mainChats = llm.chatRequests();
	mainRequests = llm.requests.slice();

	toolDescription = await editorNodeType(n8n, 'n8n-nodes-copernica.copernicaDataRequestTool');
	timings.setupMs = Date.now() - t0;
});

afterAll(async () => {
	// E2E_AGENT_DUMP=<file>: everything the model was sent, the run and the tool variant's type, for a look by hand.
	if (process.env.E2E_AGENT_DUMP) {
		require('fs').writeFileSync(process.env.E2E_AGENT_DUMP, JSON.stringify({ llm: llm?.requests, run: run?.execution, tool: toolDescription }, null, 2));
	}
	console.log(`agent e2e timings: ${JSON.stringify({ ...timings, n8n: n8n?.timings })}`);
	await n8n?.stop();
	await sandbox?.close();
	await llm?.close();
});

/** The scripted model's view of the main run: the chat requests n8n sent, in order. */
const chats = () => mainChats;

describe('n8n 2.x: the Copernica Data Request Tool under an AI Agent', () => {
	it('the execution succeeds and the agent answers with the created id', () => {
		expect({ status: run.status, error: run.error?.message }).toEqual({ status: 'success', error: undefined });
		const created = [...sandbox.dataRequests.values()];
		expect(created).toHaveLength(1);
		const [{ id }] = created;
		const [answer] = run.output('AI Agent');
		expect(typeof answer.output).toBe('string');
		expect(answer.output).toContain(id);
		expect(answer.output).toContain(EMAIL);
	});

	it('the sandbox received exactly one create, for dsar-agent@example.com', () => {
		expect(sandbox.counts()).toMatchObject({ create: 1, created: 1, status: 0, data: 0, bare: 0, other: 0 });
		const creates = sandbox.requests.filter((r) => r.kind === 'create');
		expect(creates).toHaveLength(1);
		expect(creates[0]).toMatchObject({ method: 'POST', path: `/v3/email/${encodeURIComponent(EMAIL)}/datarequest`, status: 201 });
		const [record] = [...sandbox.dataRequests.values()];
		expect(record).toMatchObject({ type: 'email', target: EMAIL, id: creates[0].id });
		expect(record.report).toBeUndefined();
	});

	it('n8n ran the tool node once, with the arguments the model gave, and it output the created request', () => {
		const runs = run.runData[TOOL_NODE];
		expect(runs).toHaveLength(1);
		const [toolRun] = runs;
		expect(toolRun.error).toBeUndefined();
		const items = toolRun.data.ai_tool[0].map((i) => i.json);
		const [{ id }] = [...sandbox.dataRequests.values()];
		expect(items).toEqual([expect.objectContaining({ id, subjectType: 'email', subject: EMAIL, report: null })]);
		expect(items[0].dueBy).toEqual(expect.any(String));
	});

	it('the model was asked twice: the tool call, then with the tool result carrying the id', () => {
		const requests = chats();
		expect(requests.map((r) => r.step)).toEqual(['tool-call', 'final']);
		// What n8n talks: Chat Completions on the credential's base URL, not streamed, no /models.
		for (const r of requests) {
			expect(r).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
			expect(r.headers.authorization).toBe(`Bearer ${llm.apiKey}`);
			expect(r.body).toMatchObject({ model: 'gpt-4o-mini', stream: false });
		}
		expect(mainRequests.filter((r) => r.kind !== 'chat')).toEqual([]);

		// The first request: the user's prompt, no tool result yet.
		const first = requests[0].body.messages;
		expect(first.some((m) => m.role === 'user' && String(m.content).includes(EMAIL))).toBe(true);
		expect(first.some((m) => m.role === 'tool')).toBe(false);

		// The second carries the model's own tool call and the tool's result for that call.
		const second = requests[1].body.messages;
		const call = second.find((m) => m.role === 'assistant' && m.tool_calls?.length);
		expect(call.tool_calls).toEqual([
			{ id: 'call_scripted_1', type: 'function', function: { name: TOOL_NAME, arguments: expect.any(String) } },
		]);
		// n8n 2.41 hands the call back with the call's id added to the arguments the model gave.
		expect(JSON.parse(call.tool_calls[0].function.arguments)).toMatchObject({ email: EMAIL });
		const result = second.find((m) => m.role === 'tool');
		expect(result.tool_call_id).toBe('call_scripted_1');
		const [{ id }] = [...sandbox.dataRequests.values()];
		const content = JSON.parse(result.content);
		expect(content).toEqual([expect.objectContaining({ id, subjectType: 'email', subject: EMAIL })]);
	});

	it('what the tool offers the model: its name, description and the JSON schema of its $fromAI parameters', () => {
		const [first] = chats();
		const tools = first.body.tools;
		expect(tools.map((t) => t.function?.name)).toEqual([TOOL_NAME]);
		const [tool] = tools;
		expect(tool.type).toBe('function');
		// "Tool Description: Set Automatically" (the default): for a node without a resource, n8n
		// takes the node's own description.
		expect(tool.function.description).toBe(toolDescription.description);
		expect(tool.function.description).toMatch(/Copernica/);
		// Only what the workflow leaves to the model: the one $fromAI key, a required string.
		expect(tool.function.parameters).toMatchObject({
			type: 'object',
			properties: { email: { type: 'string', description: EMAIL_DESCRIPTION } },
			required: ['email'],
		});
		expect(Object.keys(tool.function.parameters.properties)).toEqual(['email']);
	});

	it('Create and Wait is not offered to the model', () => {
		// What the model sees of the tool names no operation at all, so no pausing one.
		const [first] = chats();
		const offered = JSON.stringify(first.body.tools);
		expect(offered).not.toMatch(/createAndWait|create and wait|wait for the file/i);
	});

	// What the editor offers for the tool variant. The node hides Create and Wait there with
	// `displayOptions: { hide: { '@tool': [true] } }` on the option (since 6a5401b; a build from
	// before that fails here with ["create", "createAndWait", "get", ...]).
	it('Create and Wait is not an operation of the tool variant', () => {
		const visible = toolDescription.properties
			.filter((p) => p.name === 'operation' && showsInToolVariant(p.displayOptions))
			.flatMap((p) => p.options.filter((o) => showsInToolVariant(o.displayOptions)).map((o) => o.value));
		expect(visible).toContain('create');
		expect(visible).toContain('get');
		expect(visible).not.toContain('createAndWait');
	});

	it('a tool set to Create and Wait is refused: the model gets the reason, nothing is created, nothing waits', async () => {
		const creates = sandbox.counts().create;
		const mark = llm.requests.length;
		const refused = await n8n.executeWorkflow(REFUSED_WORKFLOW_ID, { timeoutMs: 120_000 });
		// The agent hands a tool's failure to the model as its result; the execution goes on.
		expect(refused.status).not.toBe('waiting');
		expect(sandbox.counts().create).toBe(creates);
		const [toolRun] = refused.runData[TOOL_NODE];
		expect(toolRun.error?.message).toMatch(/Create and Wait cannot run as an AI agent's tool/);
		const sent = llm.requests.slice(mark).filter((r) => r.kind === 'chat');
		expect(sent.map((r) => r.step)).toEqual(['tool-call', 'final']);
		const result = sent[1].body.messages.find((m) => m.role === 'tool');
		expect(result.content).toMatch(/Create and Wait cannot run as an AI agent's tool/);
		expect(refused.status).toBe('success');
		expect(refused.output('AI Agent')[0].output).toMatch(/could not open a data request/);
		leakTargets.push(refused.execution);
	});

	it('streamed: behind a Webhook that answers with "Streaming" the model is asked with stream: true, and the caller reads the id', async () => {
		await n8n.activate(STREAM_WORKFLOW_ID);
		await n8n.waitForWebhook(`webhook/${STREAM_PATH}`);
		const mark = llm.requests.length;
		const creates = sandbox.counts().create;
		const t0 = Date.now();
		const answer = await n8n.request('POST', `/webhook/${STREAM_PATH}`, { body: { email: STREAM_EMAIL } });
		timings.streamedMs = Date.now() - t0;
		expect(answer.status).toBe(200);
		// n8n writes one JSON object per line: begin, item (a piece of the text), end, per node run.
		const chunks = answer.text
			.split('\n')
			.filter(Boolean)
			.map((line) => JSON.parse(line));
		const text = chunks
			.filter((c) => c.type === 'item')
			.map((c) => c.content)
			.join('');
		expect(sandbox.counts().create).toBe(creates + 1);
		const record = [...sandbox.dataRequests.values()].find((r) => r.target === STREAM_EMAIL);
		expect(record).toBeDefined();
		expect(text).toContain(record.id);

		const sent = llm.requests.slice(mark).filter((r) => r.kind === 'chat');
		expect(sent.map((r) => r.step)).toEqual(['tool-call', 'final']);
		for (const r of sent) expect(r.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
		const result = sent[1].body.messages.find((m) => m.role === 'tool');
		expect(JSON.parse(result.content)).toEqual([expect.objectContaining({ id: record.id, subject: STREAM_EMAIL })]);

		const [done] = await n8n.waitForExecutions(STREAM_WORKFLOW_ID, 1, 60_000);
		const execution = await n8n.execution(done.id);
		expect(execution.status).toBe('success');
		leakTargets.push(execution);
		await n8n.deactivate(STREAM_WORKFLOW_ID);
	});

	it("the OpenAI credential's Test button lists the stand-in's models (GET /models)", async () => {
		const mark = llm.requests.length;
		const tested = await n8n.testCredential(OPENAI_CREDENTIAL_ID);
		expect(tested).toMatchObject({ status: 'OK' });
		expect(llm.requests.slice(mark).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(['GET /v1/models 200']);
	});

	it('the access token appears nowhere: not to the model, the executions, the database or the log', () => {
		const found = {
			'requests to the model': llm.requests.filter((r) => r.raw.includes(TOKEN) || JSON.stringify(r.headers).includes(TOKEN)).length,
			executions: [run.execution, ...leakTargets].map((e) => JSON.stringify(e).split(TOKEN).length - 1).reduce((a, b) => a + b),
			'database.sqlite': countInFile(n8n.dbPath, TOKEN),
			'database.sqlite-wal': countInFile(`${n8n.dbPath}-wal`, TOKEN),
			'n8n log': countInFile(n8n.logFile, TOKEN),
		};
		expect(found).toEqual({ 'requests to the model': 0, executions: 0, 'database.sqlite': 0, 'database.sqlite-wal': 0, 'n8n log': 0 });
		// The stand-in's own key does not leak into the execution either.
		expect(JSON.stringify(run.execution)).not.toContain(llm.apiKey);
	});
});
