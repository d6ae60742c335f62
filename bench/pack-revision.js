#!/usr/bin/env node
'use strict';
/**
 * Builds and packs the package as it was at a git revision, without touching the working tree, so
 * that a benchmark can measure the code before a change:
 *
 *   node bench/pack-revision.js 3c76549          # prints the tarball's path
 *   BENCH_TARBALL=<that path> node bench/create.js
 *
 * The revision is exported with `git archive` into a temporary folder, which borrows this
 * checkout's node_modules (a symlink) for the build.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');

function packRevision(revision) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-rev-${revision.replace(/[^\w.-]/g, '_')}-`));
	const archive = execFileSync('git', ['archive', '--format=tar', revision], { cwd: ROOT, maxBuffer: 512 * 1024 * 1024 });
	execFileSync('tar', ['-x', '-C', dir], { input: archive });
	fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
	execFileSync('npm', ['run', 'build'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
	const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8' });
	return path.join(dir, JSON.parse(out)[0].filename);
}

module.exports = { packRevision };

if (require.main === module) {
	const revision = process.argv[2];
	if (!revision) {
		process.stderr.write('usage: node bench/pack-revision.js <git revision>\n');
		process.exit(2);
	}
	process.stdout.write(`${packRevision(revision)}\n`);
}
