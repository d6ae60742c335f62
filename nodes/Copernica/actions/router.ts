import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { concurrencyLimit, DEFAULT_CONCURRENCY, mapInOrder } from '../helpers/concurrency';
import { InvalidInputError } from '../helpers/validation';
import * as create from './create.operation';
import * as createAndWait from './createAndWait.operation';
import * as get from './get.operation';

type Operation = (this: IExecuteFunctions, itemIndex: number, prepared?: never) => Promise<INodeExecutionData>;
/** Reads and checks an item's parameters; what it returns is handed to the operation. */
type Prepare = (this: IExecuteFunctions, itemIndex: number) => unknown;

const operations: Record<string, Operation> = {
	create: create.execute,
	get: get.execute,
	// Refuses more than one item (one execution waits for one file), so it runs at most once.
	createAndWait: createAndWait.execute,
};

// Operations whose parameters are read for every item before the first call is sent, as n8n's
// HTTP Request node does: n8n's expression engine costs about a quarter less per item in one
// tight loop than between network calls (profile in bench/RESULTS.md).
const preparers: Record<string, Prepare> = {
	create: create.prepare,
};

/**
 * Runs the chosen operation once per input item, up to the "Concurrency" option at once, and
 * outputs the results in input order. Bad input fails its item with a NodeOperationError that
 * names the item; with Continue On Fail every item still gives an output item (the error in place
 * of the result), so nothing is lost or silently skipped. Without it, the first failing item's
 * error stops the node: no new item starts, and items already in flight finish first.
 */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const operation = this.getNodeParameter('operation', 0) as string;
	const run = operations[operation];
	if (run === undefined) {
		// n8n offers "Custom API Call" for every node with a credential; this node has none.
		const hint =
			operation === '__CUSTOM_API_CALL__'
				? 'For other Copernica API calls, use an HTTP Request node with the Copernica API credential'
				: 'Choose Create, Create and Wait or Get';
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not supported`, { description: hint });
	}

	const prepare = preparers[operation];
	// A bad item's error is kept and thrown in its turn, so the order of events stays the same.
	const prepared = items.map((_, itemIndex) => {
		if (prepare === undefined) return undefined;
		try {
			return { value: prepare.call(this, itemIndex) };
		} catch (error) {
			return { error };
		}
	});
	const concurrency = concurrencyLimit(this.getNodeParameter('options.concurrency', 0, DEFAULT_CONCURRENCY));
	const output = await mapInOrder(items.length, concurrency, async (itemIndex): Promise<INodeExecutionData> => {
		try {
			const ready = prepared[itemIndex];
			if (ready !== undefined && 'error' in ready) throw ready.error;
			return await run.call(this, itemIndex, ready?.value as never);
		} catch (caught) {
			const error =
				caught instanceof NodeApiError || caught instanceof NodeOperationError
					? caught
					: new NodeOperationError(
							this.getNode(),
							caught instanceof InvalidInputError ? `Item ${itemIndex}: ${caught.message}` : (caught as Error),
							{ itemIndex },
						);
			if (!this.continueOnFail()) throw error;
			return {
				json: { error: error.message, ...(error.description ? { description: error.description } : {}) },
				pairedItem: { item: itemIndex },
			};
		}
	});
	return [output];
}
