import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { InvalidInputError } from '../helpers/validation';
import * as create from './create.operation';
import * as get from './get.operation';

type Operation = (this: IExecuteFunctions, itemIndex: number) => Promise<INodeExecutionData>;

const operations: Record<string, Operation> = {
	create: create.execute,
	get: get.execute,
};

/**
 * Runs the chosen operation once per input item, in order. Bad input fails its item with a
 * NodeOperationError that names the item; with Continue On Fail every item still gives an output
 * item (the error in place of the result), so nothing is lost or silently skipped.
 */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const operation = this.getNodeParameter('operation', 0) as string;
	const run = operations[operation];
	if (run === undefined) {
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not supported`);
	}

	const output: INodeExecutionData[] = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		try {
			output.push(await run.call(this, itemIndex));
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
			output.push({
				json: { error: error.message, ...(error.description ? { description: error.description } : {}) },
				pairedItem: { item: itemIndex },
			});
		}
	}
	return [output];
}
