// The examples are what users import first: their webhook nodes must leave the body to the node
// (options.binaryData, the default of both nodes' Options), or n8n reads and parses it first and its
// payload limit (16 MB by default) applies again.
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';

const EXAMPLES = join(__dirname, '..', '..', 'examples');
const webhookNodes = readdirSync(EXAMPLES)
	.filter((name) => name.endsWith('.json'))
	.flatMap((name) => {
		const workflow = JSON.parse(readFileSync(join(EXAMPLES, name), 'utf8')) as { nodes: Array<{ name: string; type: string; parameters: Record<string, unknown> }> };
		return workflow.nodes
			.filter((node) => node.type.endsWith('.copernicaDataRequestTrigger') || (node.type.endsWith('.copernicaDataRequest') && node.parameters.operation === 'createAndWait'))
			.map((node) => [name, node.name, node.parameters] as const);
	});

describe('examples', () => {
	it('hold a trigger', () => {
		expect(webhookNodes.length).toBeGreaterThan(0);
	});

	it.each(webhookNodes)('%s, %s: the body is left to the node', (_file, _node, parameters) => {
		const options = parameters.options as Record<string, unknown> | undefined;
		// No Options stored: n8n fills in the default { binaryData: true } when it loads the workflow.
		if (options !== undefined) expect(options.binaryData).toBe(true);
	});
});
