// Packs the built package exactly as `npm publish` would (npm pack), for the scan and e2e tests.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');

/** Returns { tarball, unpacked } in a fresh temporary folder. Build first (`npm run build`). */
function packPackage() {
	if (!fs.existsSync(path.join(ROOT, 'dist'))) throw new Error('dist/ is missing: run `npm run build` first');
	// Inside the checkout, so that the peer dependency n8n-workflow resolves from node_modules.
	fs.mkdirSync(path.join(ROOT, '.tmp'), { recursive: true });
	const dir = fs.mkdtempSync(path.join(ROOT, '.tmp', 'pack-'));
	const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' });
	const [{ filename, files }] = JSON.parse(out.slice(out.indexOf('[')));
	const tarball = path.join(dir, path.basename(filename));
	execFileSync('tar', ['xzf', tarball, '-C', dir]);
	return { tarball, unpacked: path.join(dir, 'package'), files: files.map((f) => f.path) };
}

module.exports = { packPackage, ROOT };
