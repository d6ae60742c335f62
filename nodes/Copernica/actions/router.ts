import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { mapInOrder, runLimitOf } from '../helpers/concurrency';
import { InvalidInputError } from '../helpers/validation';
import { allowsUnencryptedHttp } from '../transport';
import * as create from './create.operation';
import type { PrepareSettings } from './create.operation';
import * as createAndWait from './createAndWait.operation';
import * as findPerson from './findPerson.operation';
import * as get from './get.operation';
import { isAgentTool } from '../helpers/agentTool';

/** One output item per input item; Find Person gives one per profile and subprofile found. */
type Operation = (
	this: IExecuteFunctions,
	itemIndex: number,
	prepared?: never,
) => Promise<INodeExecutionData | INodeExecutionData[]>;
/** Reads and checks an item's parameters; what it returns is handed to the operation. */
type Prepare = (this: IExecuteFunctions, itemIndex: number, settings: PrepareSettings) => unknown;

const operations: Record<string, Operation> = {
	create: create.execute,
	get: get.execute,
	// Refuses more than one item (one execution waits for one file), so it runs at most once.
	createAndWait: createAndWait.execute,
	findPerson: findPerson.execute,
};

// Operations whose parameters are read for every item before the first call is sent, as n8n's
// HTTP Request node does: n8n's expression engine costs about a quarter less per item in one
// tight loop than between network calls (profile in bench/RESULTS.md).
const preparers: Record<string, Prepare> = {
	create: create.prepare,
	findPerson: findPerson.prepare,
};

/** The error an item's failure becomes: the node's own errors as they are, others named by item. */
function itemError(context: IExecuteFunctions, caught: unknown, itemIndex: number): NodeApiError | NodeOperationError {
	if (caught instanceof NodeApiError || caught instanceof NodeOperationError) return caught;
	return new NodeOperationError(
		context.getNode(),
		caught instanceof InvalidInputError ? `Item ${itemIndex}: ${caught.message}` : (caught as Error),
		{ itemIndex },
	);
}

/**
 * Runs the chosen operation once per input item, as many at once as the adaptive limit allows (at
 * most the "Concurrency" option), and
 * outputs the results in input order. With Continue On Fail every item gives an output item (the
 * error in place of the result), so nothing is lost or silently skipped. Without it:
 * - bad input fails the node before anything is sent, so a batch with one bad item creates
 *   nothing (running it again after the fix makes no duplicates);
 * - a failed call stops the node: no new item starts, items in flight finish, and the error lists
 *   the data requests already created, so that none is lost.
 */
export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const items = this.getInputData();
	const operation = this.getNodeParameter('operation', 0) as string;
	const run = operations[operation];
	if (run === undefined) {
		// n8n offers "Custom API Call" for every node with a credential; this node has none.
		if (operation === '__CUSTOM_API_CALL__') {
			throw new NodeOperationError(this.getNode(), 'This node has no custom API call', {
				description: 'For other Copernica API calls, use an HTTP Request node with the Copernica API credential.',
			});
		}
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" is not supported`, {
			description: 'Choose Create, Create and Wait, Get or Find Person.',
		});
	}
	if (operation === 'createAndWait' && isAgentTool(this)) {
		throw new NodeOperationError(this.getNode(), 'Create and Wait cannot run as an AI agent\'s tool', {
			description:
				'It pauses the whole execution until Copernica delivers the file, which an agent\'s tool call cannot do. Use Create, and Get later.',
		});
	}

	const continueOnFail = this.continueOnFail();
	const prepare = preparers[operation];
	const settings: PrepareSettings = { allowHttp: prepare !== undefined && (await allowsUnencryptedHttp(this, 0)) };
	const prepared = items.map((_, itemIndex) => {
		if (prepare === undefined) return undefined;
		try {
			return { value: prepare.call(this, itemIndex, settings) };
		} catch (error) {
			if (!continueOnFail) throw itemError(this, error, itemIndex);
			return { error };
		}
	});
	const done: Array<INodeExecutionData | INodeExecutionData[] | undefined> = [];
	// Adapts to Copernica's answers, up to the user's Concurrency (helpers/concurrency.ts).
	const limit = runLimitOf(this);
	try {
		const output = await mapInOrder(items.length, limit, async (itemIndex): Promise<INodeExecutionData | INodeExecutionData[]> => {
			try {
				const ready = prepared[itemIndex];
				if (ready !== undefined && 'error' in ready) throw ready.error;
				return (done[itemIndex] = await run.call(this, itemIndex, ready?.value as never));
			} catch (caught) {
				const error = itemError(this, caught, itemIndex);
				if (!continueOnFail) throw error;
				return {
					json: { error: error.message, ...(error.description ? { description: error.description } : {}) },
					pairedItem: { item: itemIndex },
				};
			}
		});
		return [output.flat()];
	} catch (error) {
		const failure = error as NodeApiError | NodeOperationError;
		throw operation === 'create' ? withCreatedRequests(failure, done) : failure;
	}
}

/** Adds to a failure the data requests that items before or beside it did create. */
function withCreatedRequests(
	error: NodeApiError | NodeOperationError,
	done: Array<INodeExecutionData | INodeExecutionData[] | undefined>,
) {
	const created = done.flatMap((item, itemIndex) =>
		item !== undefined && !Array.isArray(item) && typeof item.json.id === 'string' ? [`item ${itemIndex}: ${item.json.id}`] : [],
	);
	if (created.length === 0) return error;
	const list = `Already created (do not run these items again, or they are requested twice): ${created.join(', ')}.`;
	error.description = error.description ? `${error.description} ${list}` : list;
	return error;
}
