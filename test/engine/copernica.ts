// Shared setup for engine tests of this package: the real node and credential classes, a
// sandbox, and a one-line way to run "Manual Trigger -> Items -> Copernica Data Request".
// (The trigger is tested in real n8n: test/e2e/webhooks.e2e.test.js.)
import type { IDataObject, INodeExecutionData, INodeParameters } from 'n8n-workflow';

import { CopernicaApi } from '../../credentials/CopernicaApi.credentials';
import { CopernicaDataRequest } from '../../nodes/Copernica/CopernicaDataRequest.node';
import { ITEMS_NODE_TYPE, MANUAL_TRIGGER_TYPE, runWorkflow, safeStringify, type RunResult } from './harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { startSandbox } = require('../sandbox');

export const NODE_TYPE = 'n8n-nodes-copernica.copernicaDataRequest';
export const TOKEN = 'sbx-engine-token-5f1d2c3b4a';
/** The node as an AI agent's tool: n8n names the tool variant of a node "<type>Tool". */
export const TOOL_TYPE = `${NODE_TYPE}Tool`;
export const nodeTypes = { [NODE_TYPE]: new CopernicaDataRequest(), [TOOL_TYPE]: new CopernicaDataRequest() };
export const credentialTypes = [new CopernicaApi()];

export interface Sandbox {
	url: string;
	token: string;
	close(): Promise<void>;
	setOptions(options: IDataObject): void;
	addFault(rule: IDataObject): void;
	clearFaults(): void;
	reset(): void;
	counts(): Record<string, number>;
	requests: Array<{ method: string; path: string; kind: string; status: number }>;
	dataRequests: Map<string, IDataObject>;
	outbox: IDataObject[];
	deliveries: IDataObject[];
	makeReady(id: string): void;
	expire(id: string): void;
	waitForDeliveries(count: number, timeoutMs?: number): Promise<void>;
}

export async function startCopernica(options: IDataObject = {}): Promise<Sandbox> {
	return (await startSandbox({ token: TOKEN, ...options })) as Sandbox;
}

export function dataRequestOf(sandbox: Sandbox, id: string): IDataObject {
	const record = sandbox.dataRequests.get(String(id));
	if (!record) throw new Error(`The sandbox has no data request ${id}`);
	return record;
}

export interface RunOptions {
	items?: IDataObject[];
	continueOnFail?: boolean;
	baseUrl?: string;
	accessToken?: string;
	allowUnencryptedHttp?: boolean;
	/** The credential's API Version; v3 unless given (the tests written before v4 stay on v3). */
	apiVersion?: 'v3' | 'v4';
	/** More credential data (e.g. a stored `expirable` JWT, another `authenticationUrl`). */
	credential?: IDataObject;
	binaryDataMode?: 'default' | 'filesystem';
	onStart?: (cancel: () => void) => void;
	timezone?: string;
	/** TOOL_TYPE runs the node as an agent's tool would. */
	nodeType?: string;
}

/** Runs the node once over the given input items; returns the run and the node's output. */
export async function runNode(
	sandbox: Sandbox | undefined,
	parameters: INodeParameters,
	options: RunOptions = {},
): Promise<{ run: RunResult; output: INodeExecutionData[] | undefined }> {
	const run = await runWorkflow(
		{
			nodes: [
				{ name: 'Start', type: MANUAL_TRIGGER_TYPE, parameters: {} },
				{ name: 'Items', type: ITEMS_NODE_TYPE, parameters: { items: JSON.stringify(options.items ?? [{}]) } },
				{
					name: 'Copernica',
					type: options.nodeType ?? NODE_TYPE,
					parameters,
					...(options.continueOnFail ? { onError: 'continueRegularOutput' as const } : {}),
				},
			],
			connections: {
				Start: { main: [[{ node: 'Items', type: 'main', index: 0 }]] },
				Items: { main: [[{ node: 'Copernica', type: 'main', index: 0 }]] },
			},
		},
		{
			nodeTypes,
			credentialTypes,
			credentials: {
				copernicaApi: {
					accessToken: options.accessToken ?? TOKEN,
					baseUrl: options.baseUrl ?? sandbox?.url ?? 'http://127.0.0.1:9',
					...(options.allowUnencryptedHttp ? { allowUnencryptedHttp: true } : {}),
					apiVersion: options.apiVersion ?? 'v3',
					...(sandbox ? { authenticationUrl: `${sandbox.url}/authenticate` } : {}),
					...options.credential,
				},
			},
			binaryDataMode: options.binaryDataMode,
			onStart: options.onStart,
			timezone: options.timezone,
		},
	);
	return { run, output: run.runData.Copernica?.[0]?.data?.main?.[0] ?? undefined };
}

/** Everything of a run that could end up stored or shown: run data, error, log lines. */
export function everythingStoredOf(run: RunResult): string {
	return safeStringify({ runData: run.runData, error: run.error, log: run.logLines.map((line) => line.text) });
}
