#!/usr/bin/env node
'use strict';
/**
 * Run the sandbox as a process (end-to-end suite, demo, benchmarks):
 *
 *   node test/sandbox/cli.js [--port 8765] [--token X] [--ready-after-ms 5000] [--clock-speed 60]
 *                            [--id-style json] [--file-size 500000000] [--sign-reports] ...
 *
 * Every option of startSandbox() can be given as --kebab-case VALUE (numbers, true/false and JSON
 * are parsed; a flag without value is true). Env SANDBOX_PORT and SANDBOX_TOKEN are read too.
 * It prints a human line and one machine-readable line:
 *   SANDBOX_READY {"url":"http://127.0.0.1:8765","port":8765,"token":"..."}
 * and runs until SIGINT/SIGTERM. Steer it over HTTP under /__sandbox/ (see index.js).
 */
const { startSandbox, DEFAULTS } = require('./index');

function parseValue(v) {
	if (v === undefined) return true;
	if (v === 'Infinity') return Infinity;
	try {
		return JSON.parse(v);
	} catch {
		return v; // a plain string
	}
}

function parseArgs(argv) {
	const options = {};
	for (let i = 0; i < argv.length; i++) {
		const m = /^--([a-z0-9-]+)(?:=(.*))?$/i.exec(argv[i]);
		if (!m) throw new Error(`unexpected argument ${argv[i]}`);
		const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
		if (key === 'help') return { help: true };
		if (!(key in DEFAULTS)) throw new Error(`unknown option --${m[1]}`);
		let value = m[2];
		if (value === undefined && argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) value = argv[++i];
		// The token is always a string, even when it looks like a number.
		options[key] = key === 'token' ? String(value) : parseValue(value);
	}
	return options;
}

async function main() {
	let options;
	try {
		options = parseArgs(process.argv.slice(2));
	} catch (err) {
		process.stderr.write(`${err.message}\n`);
		process.exit(2);
	}
	if (options.help) {
		process.stdout.write(`usage: node test/sandbox/cli.js [--option value ...]\noptions: ${Object.keys(DEFAULTS).join(', ')}\n`);
		return;
	}
	if (options.port === undefined && process.env.SANDBOX_PORT) options.port = Number(process.env.SANDBOX_PORT);
	if (options.token === undefined && process.env.SANDBOX_TOKEN) options.token = process.env.SANDBOX_TOKEN;

	const sandbox = await startSandbox(options);
	process.stdout.write(`Copernica sandbox listening on ${sandbox.url} (token ${sandbox.token})\n`);
	process.stdout.write(`SANDBOX_READY ${JSON.stringify({ url: sandbox.url, port: sandbox.port, token: sandbox.token })}\n`);

	const stop = async () => {
		await sandbox.close();
		process.exit(0);
	};
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);
}

main().catch((err) => {
	process.stderr.write(`sandbox: ${err.stack || err.message}\n`);
	process.exit(1);
});
