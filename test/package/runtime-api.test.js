// What the built nodes take from n8n-workflow at run time must exist in the n8n-workflow of every
// n8n line the package supports: it is n8n's own copy that a community package gets (a peer
// dependency), not the devDependency the engine tests run on. (n8n 2.x stopped exporting
// sleepWithAbort, for one; an import of it passed every engine test and broke every wait there.)
const fs = require('fs');
const path = require('path');

const { ensureN8n } = require('../e2e/install-n8n');

const ROOT = path.resolve(__dirname, '..', '..');

function jsFiles(dir) {
	return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
		const full = path.join(dir, entry.name);
		return entry.isDirectory() ? jsFiles(full) : entry.name.endsWith('.js') ? [full] : [];
	});
}

/** Every `n8n_workflow_N.<name>` that tsc's output uses. */
function usedNames() {
	const names = new Set();
	for (const file of jsFiles(path.join(ROOT, 'dist'))) {
		for (const [, name] of fs.readFileSync(file, 'utf8').matchAll(/\bn8n_workflow_\d+\.([A-Za-z_$][\w$]*)/g)) names.add(name);
	}
	return [...names].sort();
}

describe.each([[1], [2]])("the n8n-workflow of n8n %i.x", (major) => {
	it('has everything the built nodes use from it', () => {
		const names = usedNames();
		expect(names.length).toBeGreaterThan(0);
		const n8n = ensureN8n(major);
		const workflow = require(require.resolve('n8n-workflow', { paths: [path.join(n8n.dir, 'node_modules', 'n8n')] }));
		expect(names.filter((name) => workflow[name] === undefined)).toEqual([]);
	});
});
