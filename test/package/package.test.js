// What would be published: packed with npm pack, then checked the way n8n checks it.
const { execFileSync } = require('child_process');
const path = require('path');

const { packPackage, ROOT } = require('./pack');

describe('the published package', () => {
	let packed;
	beforeAll(() => {
		packed = packPackage();
	});

	it('ships the built nodes, credential, icons and nothing else', () => {
		const pkg = require(path.join(ROOT, 'package.json'));
		for (const file of [...pkg.n8n.nodes, ...pkg.n8n.credentials, pkg.main]) expect(packed.files).toContain(file);
		expect(packed.files).toContain('dist/nodes/Copernica/copernica.svg');
		expect(packed.files).toContain('dist/nodes/Copernica/copernica.dark.svg');
		expect(packed.files).toContain('dist/nodes/Copernica/CopernicaDataRequest.node.json');
		expect(packed.files).toContain('dist/nodes/Copernica/CopernicaDataRequestTrigger.node.json');
		expect(packed.files.filter((f) => /(^|\/)test\/|\.test\.|^src\/|\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
		expect(pkg.dependencies ?? {}).toEqual({});
	});

	it('loads: index.js exports the node and credential classes', () => {
		const main = require(packed.unpacked);
		expect(new main.CopernicaDataRequest().description.name).toBe('copernicaDataRequest');
		expect(new main.CopernicaDataRequestTrigger().description.name).toBe('copernicaDataRequestTrigger');
		expect(new main.CopernicaApi().name).toBe('copernicaApi');
	});

	it("passes n8n's community package scan (@n8n/scan-community-package analyzePackage)", () => {
		const out = execFileSync('node', [path.join(__dirname, 'scan.mjs'), packed.unpacked], {
			cwd: ROOT,
			encoding: 'utf8',
		});
		const result = JSON.parse(out);
		if (!result.passed) console.error(result.details ?? result.message);
		expect(result).toMatchObject({ passed: true });
	});
});
