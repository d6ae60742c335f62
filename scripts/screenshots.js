#!/usr/bin/env node
'use strict';
// `npm run screenshots`: the pictures in docs/, taken from the demo (scripts/demo.js).
//
// Starts the demo on free ports (a fresh n8n user folder, its own sandbox, the example workflows,
// never a real Copernica token), logs in to the n8n editor in headless Chromium (Debian's
// /usr/bin/chromium, driven by puppeteer-core, which downloads no browser), takes each picture
// below, and stops everything it started, also when a step fails. Every picture is taken only
// once the texts it is meant to show are on the screen, so that a login page or a spinner
// fails the run instead of ending up in docs/.
//
//   npm run screenshots                       all pictures
//   CHROMIUM_PATH=/path/to/chrome npm run screenshots
//   SCREENSHOTS_KEEP_LOG=1                    keep the demo's log (printed path) after success
const fs = require('fs');
const os = require('os');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const puppeteer = require('puppeteer-core');

const ROOT = path.resolve(__dirname, '..');
const DOCS = path.join(ROOT, 'docs');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const VIEWPORT = { width: 1280, height: 800 };
const WIDE_VIEWPORT = { width: 1440, height: 800 };
const MAX_BYTES = 300 * 1024;
const DEMO_READY_TIMEOUT_MS = 20 * 60 * 1000; // the first run installs n8n (several minutes)
const RUN_TIMEOUT_MS = 150_000; // example 3's Get waits at most 120 s for the file
// Generous: on a busy 2-core machine the editor can take more than puppeteer's 30 s to settle.
const PAGE_TIMEOUT_MS = 120_000;

const EXAMPLE_CREATE_AND_GET = 'Copernica data request: create, then get the file';
const EXAMPLE_TICKET = 'GDPR access request: ticket -> Copernica data request';
const EXAMPLE_REPLY = 'GDPR access request: Copernica file -> reply with attachment';
const SCRATCH_CREATE_AND_WAIT = 'Screenshots: Create and Wait (a copy of example 3)';
const SCRATCH_PERSON = 'Screenshots: Create (Person) and Find Person (a copy of example 3)';
const CREDENTIAL_NAME = 'Copernica (sandbox)';
const DATA_TABLE_NAME = 'GDPR access requests';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line) => console.log(`[screenshots] ${line}`);

/* ------------------------------------------------------------------ the demo process */

function freePort() {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address();
			server.close(() => resolve(port));
		});
	});
}

/** Every process below `pid` (children, their children, ...), read from /proc. */
function descendants(pid) {
	const children = new Map();
	for (const entry of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
			const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
			if (!children.has(ppid)) children.set(ppid, []);
			children.get(ppid).push(Number(entry));
		} catch {
			/* ended meanwhile */
		}
	}
	const out = [];
	const queue = [pid];
	while (queue.length) {
		for (const child of children.get(queue.shift()) || []) {
			out.push(child);
			queue.push(child);
		}
	}
	return out;
}

const isAlive = (pid) => {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
};

class Demo {
	constructor() {
		this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copernica-screenshots-'));
		this.logFile = path.join(this.dir, 'demo.log');
		this.child = null;
		this.known = new Set(); // every pid seen below the demo, to stop them by id
		this.output = '';
	}

	async start() {
		const port = await freePort();
		const sandboxPort = await freePort();
		const env = { ...process.env, N8N_DEMO_PORT: String(port), SANDBOX_PORT: String(sandboxPort), N8N_DEMO_MAJOR: '2' };
		// The pictures are of the sandbox, whatever the shell says.
		delete env.COPERNICA_ACCESS_TOKEN;
		delete env.COPERNICA_BASE_URL;
		log(`starting the demo (n8n on ${port}, sandbox on ${sandboxPort}; log ${this.logFile})`);
		const logStream = fs.createWriteStream(this.logFile);
		this.child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.js')], {
			cwd: ROOT,
			env,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
		for (const stream of [this.child.stdout, this.child.stderr]) {
			stream.on('data', (chunk) => {
				logStream.write(chunk);
				this.output += chunk.toString('utf8');
			});
		}
		this.watch = setInterval(() => this.remember(), 2000);

		const deadline = Date.now() + DEMO_READY_TIMEOUT_MS;
		let exitInfo;
		this.exited.then((info) => {
			exitInfo = info;
		});
		// The demo's last words once n8n runs with everything imported and activated.
		while (!this.output.includes('Ctrl-C stops everything.')) {
			if (exitInfo) throw new Error(`the demo exited before it was ready (${JSON.stringify(exitInfo)}):\n${this.tail()}`);
			if (Date.now() > deadline) throw new Error(`the demo was not ready after ${DEMO_READY_TIMEOUT_MS / 1000} s:\n${this.tail()}`);
			await sleep(500);
		}
		this.remember();
		const editor = /Editor:\s+(\S+)/.exec(this.output)?.[1];
		const login = /Login:\s+(\S+) \/ (\S+)/.exec(this.output);
		if (!editor || !login) throw new Error(`could not read the editor URL and login from the demo:\n${this.tail()}`);
		this.baseUrl = editor.replace(/\/$/, '');
		this.email = login[1];
		this.password = login[2];
		log(`demo ready: ${this.baseUrl}`);
		return this;
	}

	remember() {
		if (this.child?.pid && isAlive(this.child.pid)) for (const pid of descendants(this.child.pid)) this.known.add(pid);
	}

	tail(lines = 40) {
		return this.output.split('\n').slice(-lines).join('\n');
	}

	/** SIGTERM to the demo (it stops n8n and the sandbox), then SIGKILL to whatever is left. */
	async stop() {
		clearInterval(this.watch);
		if (!this.child) return;
		this.remember();
		if (this.child.exitCode === null && this.child.signalCode === null) {
			this.child.kill('SIGTERM');
			await Promise.race([this.exited, sleep(45_000)]);
		}
		if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
		for (const pid of this.known) {
			if (!isAlive(pid)) continue;
			try {
				process.kill(pid, 'SIGKILL');
			} catch {
				/* gone */
			}
		}
		this.child = null;
	}
}

/* ------------------------------------------------------------------ the editor */

class Editor {
	constructor(browser, page, demo) {
		this.browser = browser;
		this.page = page;
		this.demo = demo;
		this.written = [];
	}

	/** A request to n8n's REST API from inside the logged-in page (its cookie and browser id). */
	async rest(method, p, body) {
		const result = await this.page.evaluate(
			async (method, url, body) => {
				const headers = { 'browser-id': localStorage.getItem('n8n-browserId') || '', 'content-type': 'application/json' };
				const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
				return { status: res.status, text: await res.text() };
			},
			method,
			`/rest${p}`,
			body,
		);
		if (result.status >= 400) throw new Error(`${method} /rest${p}: ${result.status} ${result.text.slice(0, 500)}`);
		return JSON.parse(result.text).data;
	}

	async login() {
		const { page, demo } = this;
		await page.goto(`${demo.baseUrl}/signin`, { waitUntil: 'networkidle2' });
		await page.waitForSelector('#emailOrLdapLoginId', { visible: true });
		await page.type('#emailOrLdapLoginId', demo.email);
		await page.type('#password', demo.password);
		await page.click('[data-test-id="form-submit-button"]');
		await page.waitForFunction(() => !location.pathname.startsWith('/signin'), { timeout: 30_000 });
		log(`logged in as ${demo.email}`);
	}

	async workflowId(name) {
		const list = await this.rest('GET', '/workflows');
		const workflow = list.find((w) => w.name === name);
		if (!workflow) throw new Error(`no workflow named "${name}" (have: ${list.map((w) => w.name).join(', ')})`);
		return workflow.id;
	}

	/** A copy of a workflow under another name, its nodes changed by `edit` (n8n 2.x saves edits to a
	 * draft by itself, so the examples themselves are left as they are). */
	async copyWorkflow(from, name, edit, renames = {}) {
		const source = await this.rest('GET', `/workflows/${await this.workflowId(from)}`);
		let text = JSON.stringify({ nodes: source.nodes, connections: source.connections });
		for (const [before, after] of Object.entries(renames)) text = text.split(JSON.stringify(before)).join(JSON.stringify(after));
		const { nodes, connections } = JSON.parse(text);
		edit(nodes);
		await this.rest('POST', '/workflows', { name, nodes, connections, settings: source.settings });
	}

	/** Opens the node's Options "Add option" list and returns the names it offers; a picture of the
	 * open list goes to the demo's folder (not docs/), for a look at what the editor offers. */
	async optionsOffered(file) {
		// n8n 2.41's collection parameter: a select (data-test-id collection-parameter-add) whose
		// entries are collection-parameter-option.
		await this.page.click('[data-test-id="ndv"] [data-test-id="collection-parameter-add"]');
		await sleep(800);
		const offered = await this.page.evaluate(() =>
			[...document.querySelectorAll('[data-test-id="collection-parameter-option"]')]
				.filter((element) => {
					const box = element.getBoundingClientRect();
					return box.width && box.height;
				})
				.map((element) => element.textContent.replace(/\s+/g, ' ').trim()),
		);
		const target = path.join(this.demo.dir, file);
		await this.page.screenshot({ path: target, type: 'png' });
		log(`"Add option" offers: ${offered.join(' | ')} (picture: ${target})`);
		await this.page.keyboard.press('Escape');
		await sleep(400);
		return offered;
	}

	async openWorkflow(name) {
		const id = await this.workflowId(name);
		await this.page.goto(`${this.demo.baseUrl}/workflow/${id}`, { waitUntil: 'networkidle2' });
		await this.page.waitForSelector('[data-test-id="canvas-node"]', { visible: true });
		await sleep(800);
		// 2.x shows a "Production Checklist" over the canvas of a published workflow.
		const close = await this.page.$('[data-test-id="suggested-actions-close"]');
		if (close && (await close.isVisible())) {
			await close.click();
			await sleep(400);
		}
		return id;
	}

	async openNode(name) {
		const node = await this.page.waitForSelector(`[data-test-id="canvas-node"][data-node-name="${name}"]`, { visible: true });
		const box = await node.boundingBox();
		await this.page.mouse.click(box.x + box.width / 2, box.y + box.height / 2, { clickCount: 2 });
		await this.page.waitForSelector('[data-test-id="ndv"] [data-test-id="node-parameters"]', { visible: true });
		await sleep(1200);
	}

	async closeNode() {
		await this.page.click('[data-test-id="ndv-close-button"]');
		await sleep(600);
	}

	/** Clicks the innermost visible element whose whole text matches `pattern` (a RegExp). */
	async clickText(pattern) {
		const found = await this.page.evaluate(
			(source, flags) => {
				const re = new RegExp(source, flags);
				// Later in document order first: an element's descendants before the element itself.
				for (const element of [...document.querySelectorAll('body *')].reverse()) {
					const box = element.getBoundingClientRect();
					if (box.width && box.height && re.test(element.textContent.replace(/\s+/g, ' ').trim())) {
						element.setAttribute('data-screenshots-target', '');
						return true;
					}
				}
				return false;
			},
			pattern.source,
			pattern.flags,
		);
		if (!found) throw new Error(`nothing visible matches ${pattern}`);
		await this.page.click('[data-screenshots-target]');
		await this.page.evaluate(() => document.querySelector('[data-screenshots-target]')?.removeAttribute('data-screenshots-target'));
	}

	/** Fails unless every text is visible on the page (and it is not the sign-in page). */
	async expectTexts(texts) {
		const deadline = Date.now() + 15_000;
		let missing;
		while (Date.now() < deadline) {
			const { shown, url } = await this.page.evaluate(() => ({ shown: document.body.innerText, url: location.pathname }));
			if (url.startsWith('/signin')) throw new Error('the editor shows its sign-in page');
			missing = texts.filter((text) => !shown.includes(text));
			if (!missing.length) return;
			await sleep(300);
		}
		throw new Error(`not on the screen: ${missing.map((t) => JSON.stringify(t)).join(', ')}`);
	}

	async shot(file, what, texts) {
		await this.expectTexts(texts);
		const { width, height } = this.page.viewport();
		await this.page.mouse.move(width - 2, height - 2); // no hover effects
		await sleep(400);
		const target = path.join(DOCS, file);
		await this.page.screenshot({ path: target, type: 'png' });
		const png = fs.readFileSync(target);
		const size = { width: png.readUInt32BE(16), height: png.readUInt32BE(20), bytes: png.length };
		this.written.push({ file: path.relative(ROOT, target), what, ...size });
		log(`wrote ${path.relative(ROOT, target)} (${size.width}x${size.height}, ${Math.round(size.bytes / 1024)} KB): ${what}`);
		if (size.bytes > MAX_BYTES) log(`  note: larger than ${MAX_BYTES / 1024} KB`);
	}
}

/* ------------------------------------------------------------------ the pictures */

/** Both nodes declare a hidden option (binaryData, "Stream Body"): the editor must not offer it. */
async function expectNotOffered(editor, file, name) {
	const offered = await editor.optionsOffered(file);
	if (!offered.length) throw new Error('the "Add option" list showed no options');
	if (offered.includes(name)) throw new Error(`"Add option" offers the hidden option "${name}": ${offered.join(', ')}`);
}

async function takeAll(editor) {
	const { page } = editor;

	// The nodes panel, searched for "GDPR", from a workflow that has a trigger (so actions show).
	await editor.openWorkflow(EXAMPLE_CREATE_AND_GET);
	await page.click('[data-test-id="node-creator-plus-button"]');
	await page.waitForSelector('[data-test-id="node-creator-search-bar"]', { visible: true });
	await sleep(500);
	await page.keyboard.type('GDPR');
	await sleep(1200);
	await editor.shot('nodes-panel-search-gdpr.png', 'the nodes panel searched for "GDPR": the package\'s node', [
		'Copernica Data Request',
		'GDPR right of access',
	]);
	await page.keyboard.press('Enter');
	await editor.expectTexts(['Actions (', 'Triggers (']);
	await editor.clickText(/^Triggers \(\d+\)$/);
	await sleep(600);
	await editor.shot('nodes-panel-copernica.png', 'the package in the nodes panel: its actions and its trigger', [
		'Create a data request',
		'Create a data request and wait for the file',
		'Get a data request',
		'Copernica Data Request event',
	]);
	await page.keyboard.press('Escape');
	await sleep(600);

	// The action node: Create and Get, as example 3 has them.
	await editor.openNode('Create data request');
	await editor.shot('data-request-create.png', 'Copernica Data Request, Create: Subject Type, Data Subject, Report', [
		'Operation',
		'Subject Type',
		'Data Subject',
		'Report',
	]);
	await expectNotOffered(editor, 'create-add-option.png', 'Stream Body');
	await editor.closeNode();
	await editor.openNode('Get the file');
	await editor.shot('data-request-get.png', 'Copernica Data Request, Get: Request ID, Wait for File on, Return File As', [
		'Request ID',
		'Wait for File',
		'Return File As',
	]);
	await editor.closeNode();

	// Create and Wait, in a copy of example 3.
	await editor.copyWorkflow(EXAMPLE_CREATE_AND_GET, SCRATCH_CREATE_AND_WAIT, (nodes) => {
		nodes.find((node) => node.name === 'Create data request').parameters.operation = 'createAndWait';
	});
	await editor.openWorkflow(SCRATCH_CREATE_AND_WAIT);
	await editor.openNode('Create data request');
	const operation = await page.$eval('[data-test-id="parameter-input-operation"] input', (input) => input.value);
	if (operation !== 'Create and Wait') throw new Error(`the operation shows "${operation}", not Create and Wait`);
	await editor.shot('data-request-create-and-wait.png', 'Copernica Data Request, Create and Wait: the notice', [
		'This execution pauses until Copernica has assembled the file',
		'Data Subject',
		'Return File As',
	]);
	await editor.closeNode();

	// Create with Subject Type Person, and Find Person, in another copy of example 3.
	await editor.copyWorkflow(EXAMPLE_CREATE_AND_GET, SCRATCH_PERSON, (nodes) => {
		const create = nodes.find((node) => node.name === 'Create data request');
		Object.assign(create.parameters, {
			subjectType: 'person',
			subject: 'jane.doe@example.com',
			report: 'https://n8n.example.com/webhook/copernica-data-request?secret=TRIGGER-SECRET&ticket=T-1013',
		});
		const find = nodes.find((node) => node.name === 'Find Person');
		find.parameters = { operation: 'findPerson', email: 'jane.doe@example.com' };
		delete find.notes;
	}, { 'Get the file': 'Find Person' });
	await editor.openWorkflow(SCRATCH_PERSON);
	await editor.openNode('Create data request');
	const subjectType = await page.$eval('[data-test-id="parameter-input-subjectType"] input', (input) => input.value);
	if (subjectType !== 'Person') throw new Error(`Subject Type shows "${subjectType}", not Person`);
	await editor.shot('data-request-create-person.png', 'Copernica Data Request, Create with Subject Type Person', [
		'Subject Type',
		'Data Subject',
		'Report',
	]);
	await editor.closeNode();
	await editor.openNode('Find Person');
	const findOperation = await page.$eval('[data-test-id="parameter-input-operation"] input', (input) => input.value);
	if (findOperation !== 'Find Person') throw new Error(`the operation shows "${findOperation}", not Find Person`);
	const email = await page.$eval('[data-test-id="parameter-input-email"] input', (input) => input.value);
	if (email !== 'jane.doe@example.com') throw new Error(`Email shows "${email}"`);
	await editor.shot('data-request-find-person.png', 'Copernica Data Request, Find Person: Email', ['Operation', 'Email', 'Options']);
	await editor.closeNode();
	await editor.openWorkflow(EXAMPLE_CREATE_AND_GET);

	// A finished run of example 3, with Get's output.
	await page.click('[data-test-id="execute-workflow-button"]');
	const getNode = '[data-test-id="canvas-node"][data-node-name="Get the file"]';
	await page.waitForFunction(
		(selector) => {
			if (document.querySelector('[data-test-id="canvas-node-status-error"]')) return true;
			return !!document.querySelector(`${selector} [data-test-id="canvas-node-status-success"]`);
		},
		{ timeout: RUN_TIMEOUT_MS, polling: 500 },
		getNode,
	);
	if (await page.$('[data-test-id="canvas-node-status-error"]')) throw new Error('example 3 failed in the editor');
	await sleep(800);
	await editor.openNode('Get the file');
	await page.click('[data-test-id="output-panel"] [data-test-id="radio-button-json"]');
	await sleep(800);
	await editor.shot('run-create-and-get.png', 'a finished run of example 3: the file in Get\'s output', [
		'available',
		"o'brien+test@example.com",
		'"info"',
		'"data"',
	]);
	await editor.closeNode();

	// The trigger, as example 2 has it.
	await editor.openWorkflow(EXAMPLE_REPLY);
	await editor.openNode('Copernica file arrives');
	await editor.shot('data-request-trigger.png', 'Copernica Data Request Trigger: notice, Secret, Return File As', [
		'This workflow starts when Copernica delivers the file',
		'Secret',
		'Return File As',
	]);
	await expectNotOffered(editor, 'trigger-add-option.png', 'Stream Body');
	await editor.closeNode();

	// The credential form.
	const credentials = await editor.rest('GET', '/credentials');
	const credential = credentials.find((c) => c.name === CREDENTIAL_NAME);
	if (!credential) throw new Error(`no credential named "${CREDENTIAL_NAME}"`);
	await page.goto(`${editor.demo.baseUrl}/home/credentials/${credential.id}`, { waitUntil: 'networkidle2' });
	// A select's value is in its input, not in the page's text.
	const versionShown = await page.evaluate(() => [...document.querySelectorAll('input')].some((input) => input.value.startsWith('v4 (')));
	if (!versionShown) throw new Error('the credential form does not show API Version v4');
	await editor.shot('credential-copernica-api.png', 'the Copernica API credential form (sandbox, API v4), tested', [
		'Copernica API',
		'API Version',
		'Access Token',
		'Base URL',
		'Authentication URL',
		'Connection tested successfully',
	]);

	// Example 1: its audit trail node, then a ticket comes in, and its row in the data table.
	await editor.openWorkflow(EXAMPLE_TICKET);
	await editor.openNode('Audit trail entry');
	await editor.shot('example-1-audit-trail-entry.png', 'example 1\'s Data table node: one row per request, five columns', [
		'Data table',
		'Values to insert',
		'ticket',
		'requestId',
		'requestedAt',
		'dueBy',
	]);
	await editor.closeNode();
	const ticket = { ticket: 'T-1001', email: 'someone@example.com' };
	const answer = await fetch(`${editor.demo.baseUrl}/webhook/gdpr-access-request`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify(ticket),
	});
	if (answer.status !== 200) throw new Error(`example 1's webhook answered ${answer.status}: ${await answer.text()}`);
	const project = await editor.rest('GET', '/projects/personal');
	const table = (await editor.rest('GET', `/projects/${project.id}/data-tables`)).data.find((t) => t.name === DATA_TABLE_NAME);
	if (!table) throw new Error(`no data table named "${DATA_TABLE_NAME}"`);
	const rows = await editor.rest('GET', `/projects/${project.id}/data-tables/${table.id}/rows`);
	if (!rows.data.some((row) => row.ticket === ticket.ticket && row.subject === ticket.email)) {
		throw new Error(`the ticket's row is not in the data table: ${JSON.stringify(rows.data)}`);
	}
	// Wider, so that all five columns fit (n8n gives each 250 pixels).
	await page.setViewport(WIDE_VIEWPORT);
	await page.goto(`${editor.demo.baseUrl}/projects/${project.id}/datatables/${table.id}`, { waitUntil: 'networkidle2' });
	await editor.shot('data-table-gdpr-access-requests.png', 'example 1\'s audit trail: the ticket\'s row in the data table', [
		DATA_TABLE_NAME,
		'requestedAt',
		'dueBy',
		'T-1001',
		'someone@example.com',
	]);
	await page.setViewport(VIEWPORT);
}

/* ------------------------------------------------------------------ main */

async function main() {
	if (!fs.existsSync(CHROMIUM)) {
		throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH`);
	}
	fs.mkdirSync(DOCS, { recursive: true });
	const demo = new Demo();
	let browser;
	let profile;
	let failed = false;
	const cleanup = async () => {
		try {
			await browser?.close();
		} catch {
			browser?.process()?.kill('SIGKILL');
		}
		if (profile) fs.rmSync(profile, { recursive: true, force: true });
		await demo.stop();
	};
	const onSignal = (signal) => {
		log(`${signal}: stopping`);
		cleanup().finally(() => process.exit(1));
	};
	process.once('SIGINT', onSignal);
	process.once('SIGTERM', onSignal);

	let editor;
	try {
		await demo.start();
		profile = fs.mkdtempSync(path.join(os.tmpdir(), 'copernica-screenshots-chromium-'));
		browser = await puppeteer.launch({
			executablePath: CHROMIUM,
			headless: true,
			userDataDir: profile,
			defaultViewport: VIEWPORT,
			args: [
				'--no-sandbox',
				'--disable-gpu',
				'--disable-background-networking',
				'--disable-component-update',
				'--disable-sync',
				'--no-first-run',
				'--hide-scrollbars',
				`--window-size=${VIEWPORT.width},${VIEWPORT.height}`,
			],
		});
		const page = await browser.newPage();
		page.setDefaultNavigationTimeout(PAGE_TIMEOUT_MS);
		page.setDefaultTimeout(PAGE_TIMEOUT_MS);
		page.on('dialog', (dialog) => dialog.accept()); // a "leave this page?" prompt must not stop the run
		editor = new Editor(browser, page, demo);
		await editor.login();
		await takeAll(editor);
	} catch (error) {
		failed = true;
		if (editor?.page) {
			const debugShot = path.join(demo.dir, 'failure.png');
			await editor.page.screenshot({ path: debugShot }).catch(() => {});
			console.error(`[screenshots] the screen at the failure: ${debugShot}`);
		}
		console.error(`[screenshots] failed: ${error.stack || error}`);
		console.error(`[screenshots] demo log: ${demo.logFile}`);
	} finally {
		log('stopping the browser, n8n and the sandbox');
		await cleanup();
	}
	if (editor?.written.length) {
		console.log(`\nWrote ${editor.written.length} screenshots:`);
		for (const w of editor.written) {
			console.log(`  ${w.file}  ${w.width}x${w.height}  ${Math.round(w.bytes / 1024)} KB  ${w.what}`);
		}
	}
	if (!failed && !process.env.SCREENSHOTS_KEEP_LOG) fs.rmSync(demo.dir, { recursive: true, force: true });
	process.exit(failed ? 1 : 0);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
