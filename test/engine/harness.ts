/**
 * Engine test harness: runs workflow JSON through n8n-core's `WorkflowExecute`, with this
 * package's real node and credential classes, the way n8n runs a workflow from the editor.
 *
 * Real (from n8n-core and n8n-workflow): the execution loop, the node execution contexts and
 * their helpers (`httpRequestWithAuthentication`, binary data, `continueOnFail`, paired items,
 * `putExecutionToWait`), expressions, parameter defaults, the BinaryDataService.
 * Written here, small: a credentials helper that does what the Copernica API credential needs,
 * a start node and an items node (n8n-nodes-base is not installed), and a logger that keeps
 * every line so that tests can look for the access token in it.
 *
 * Webhooks (the trigger, Create and Wait's resume) are not emulated here: the e2e suite
 * (test/e2e/) tests them in real n8n.
 */
import { Logger } from '@n8n/backend-common';
import { InstanceSettingsConfig } from '@n8n/config';
import { Container } from '@n8n/di';
import {
	BinaryDataConfig,
	BinaryDataService,
	ExecutionLifecycleHooks,
	WorkflowExecute,
	WorkflowHasIssuesError,
} from 'n8n-core';
// n8n-core does not export it; every execute context creates it (see initEngine).
import { SSHClientsManager } from 'n8n-core/dist/execution-engine/ssh-clients-manager';
import type {
	ExecutionError,
	ExecutionStatus,
	IBinaryData,
	ICredentialDataDecryptedObject,
	ICredentialType,
	IDataObject,
	IExecuteFunctions,
	IHttpRequestHelper,
	IHttpRequestOptions,
	INode,
	INodeCredentialsDetails,
	INodeExecutionData,
	INodeProperties,
	INodeType,
	INodeTypeDescription,
	INodeTypes,
	NodeConnectionType,
	IConnections,
	IRun,
	IRunData,
	IWorkflowExecuteAdditionalData,
} from 'n8n-workflow';
import { ApplicationError, LoggerProxy, NodeConnectionTypes, Workflow, deepCopy, jsonParse } from 'n8n-workflow';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// ---------------------------------------------------------------------------------------------
// Logs: everything n8n-core and n8n-workflow log, kept so tests can search it for secrets
// ---------------------------------------------------------------------------------------------

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LogLine {
	level: LogLevel;
	message: string;
	metadata: unknown;
	/** `level: message {metadata as JSON}`: the text to search for a leaked token. */
	text: string;
}

/** Every line logged since the engine started (debug included). */
export const logLines: LogLine[] = [];

/** JSON.stringify that survives cycles and shows what Errors, Buffers and BigInts hold. */
export function safeStringify(value: unknown): string {
	const seen = new WeakSet<object>();
	try {
		const text = JSON.stringify(value, (_key, val: unknown) => {
			if (typeof val === 'bigint') return val.toString();
			if (val instanceof Error) {
				// message and stack are not enumerable: copy them, with the error's own fields.
				const own = Object.fromEntries(Object.getOwnPropertyNames(val).map((k) => [k, (val as never)[k]]));
				return { name: val.name, message: val.message, stack: val.stack, ...own };
			}
			if (val && typeof val === 'object') {
				// Buffer.toJSON() has already run: show the bytes as text, so a token in them is found.
				const buffer = val as { type?: unknown; data?: unknown };
				if (buffer.type === 'Buffer' && Array.isArray(buffer.data)) {
					return `<Buffer ${Buffer.from(buffer.data as number[]).toString('utf8')}>`;
				}
				if (seen.has(val)) return '[Circular]';
				seen.add(val);
			}
			return val;
		});
		return text ?? '';
	} catch (error) {
		return `[unserialisable: ${(error as Error).message}]`;
	}
}

class CollectingLogger {
	error = (message: string, metadata: unknown = {}) => this.log('error', message, metadata);
	warn = (message: string, metadata: unknown = {}) => this.log('warn', message, metadata);
	info = (message: string, metadata: unknown = {}) => this.log('info', message, metadata);
	debug = (message: string, metadata: unknown = {}) => this.log('debug', message, metadata);
	scoped = () => this;

	private log(level: LogLevel, message: string, metadata: unknown) {
		const text = `${level}: ${message} ${safeStringify(metadata)}`;
		logLines.push({ level, message, metadata, text });
		// eslint-disable-next-line no-console
		if (process.env.ENGINE_HARNESS_LOG) console.log(`[n8n] ${text}`);
	}
}

// ---------------------------------------------------------------------------------------------
// Engine set-up: what n8n-core takes from its DI container
// ---------------------------------------------------------------------------------------------

let engine: Promise<{ dir: string; binaryData: BinaryDataService }> | undefined;

function initEngine() {
	engine ??= (async () => {
		// The logger first: n8n-core's services take it when they are constructed.
		const logger = new CollectingLogger();
		Container.set(Logger, logger as unknown as Logger);
		LoggerProxy.init(logger);
		// A throwaway n8n folder (settings file, binaryData/), never ~/.n8n.
		const dir = mkdtempSync(path.join(tmpdir(), 'n8n-engine-'));
		Object.assign(Container.get(InstanceSettingsConfig), {
			userHome: dir,
			n8nFolder: path.join(dir, '.n8n'),
			encryptionKey: 'engine-test-encryption-key',
		});
		// Every execute context gets this manager, which starts a 60 s cleanup interval that would
		// keep jest from exiting. No SSH tunnels here: stop it at once.
		Container.get(SSHClientsManager).onShutdown();
		const binaryData = Container.get(BinaryDataService);
		await binaryData.init();
		return { dir, binaryData };
	})();
	return engine;
}

/** Removes the temporary n8n folder (binary data files). Call in `afterAll`. */
export async function cleanupEngine(): Promise<void> {
	if (!engine) return;
	rmSync((await engine).dir, { recursive: true, force: true });
}

export type BinaryDataMode = 'default' | 'filesystem';

/** n8n's N8N_DEFAULT_BINARY_DATA_MODE: the service reads its config's mode in init(). */
async function useBinaryDataMode(mode: BinaryDataMode) {
	const { binaryData } = await initEngine();
	Container.get(BinaryDataConfig).mode = mode;
	await binaryData.init();
}

/** A binary property's bytes, inline (default mode) or from the store (filesystem mode). */
export async function getBinaryBuffer(binary: IBinaryData): Promise<Buffer> {
	return await (await initEngine()).binaryData.getAsBuffer(binary);
}

// ---------------------------------------------------------------------------------------------
// Two small node types in place of n8n-nodes-base's
// ---------------------------------------------------------------------------------------------

/** n8n knows this type name as a start node (STARTING_NODE_TYPES), as in n8n-nodes-base. */
export const MANUAL_TRIGGER_TYPE = 'n8n-nodes-base.manualTrigger';
export const ITEMS_NODE_TYPE = 'test.items';

const testNode = (name: string, inputs: NodeConnectionType[], properties: INodeProperties[] = []): INodeTypeDescription => ({
	displayName: name,
	name,
	group: ['transform'],
	version: 1,
	description: name,
	defaults: { name },
	inputs,
	outputs: [NodeConnectionTypes.Main],
	properties,
});

/**
 * The one empty item a manual run starts with, as n8n's Manual Trigger emits. An execute()
 * node rather than a trigger(): a trigger context starts n8n's cron manager and its interval.
 */
class ManualTrigger implements INodeType {
	description = testNode('manualTrigger', []);

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [this.getInputData()];
	}
}

/** Emits the items of its `items` parameter: a JSON array of objects (text or expression). */
class Items implements INodeType {
	description = testNode('items', [NodeConnectionTypes.Main], [{ displayName: 'Items', name: 'items', type: 'json', default: '[]' }]);

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const value = this.getNodeParameter('items', 0) as unknown;
		const items = typeof value === 'string' ? jsonParse<IDataObject[]>(value) : (value as IDataObject[]);
		return [items.map((json) => ({ json, pairedItem: { item: 0 } }))];
	}
}

class NodeTypes implements INodeTypes {
	constructor(private readonly types: Record<string, INodeType>) {}

	getByName(type: string): INodeType {
		const found = this.types[type];
		if (!found) throw new ApplicationError(`Unknown node type "${type}": pass it in nodeTypes`);
		return found;
	}

	getByNameAndVersion(type: string): INodeType {
		return this.getByName(type);
	}

	getKnownTypes(): IDataObject {
		return Object.fromEntries(Object.keys(this.types).map((type) => [type, {}]));
	}
}

// ---------------------------------------------------------------------------------------------
// Credentials: what this package's credential needs, nothing more
// ---------------------------------------------------------------------------------------------

/** What n8n-core asks of `additionalData.credentialsHelper`. */
type CredentialsApi = IWorkflowExecuteAdditionalData['credentialsHelper'];

/**
 * The credential data a test gives, with the credential type's property defaults under it, and
 * the type's `authenticate` function applied to each request. preAuthentication as n8n's
 * CredentialsHelper does it (1.123 and 2.41 alike): only for a type with a hidden `expirable`
 * field, only when that field is empty or the request helper says the credential expired (after
 * a thrown 401); the output is stored with the credential (here: kept, and handed to the next
 * run by `storedCredentials`) and merged into the data the request goes with. No generic
 * (expression) authenticate, no OAuth, no `extends`: the Copernica credential uses none.
 */
class TestCredentials implements CredentialsApi {
	constructor(
		private readonly types: Map<string, ICredentialType>,
		private readonly data: Record<string, ICredentialDataDecryptedObject>,
	) {}

	private type(name: string): ICredentialType {
		const type = this.types.get(name);
		if (!type) throw new ApplicationError(`Unknown credential type "${name}": pass it in credentialTypes`);
		return type;
	}

	getParentTypes(): string[] {
		return [];
	}

	getCredentialsProperties(type: string): INodeProperties[] {
		return this.type(type).properties;
	}

	async getDecrypted(
		_additionalData: IWorkflowExecuteAdditionalData,
		_nodeCredentials: INodeCredentialsDetails,
		type: string,
	): Promise<ICredentialDataDecryptedObject> {
		const given = this.data[type];
		if (!given) throw new ApplicationError(`No credential data for "${type}": pass it in credentials`);
		const defaults = Object.fromEntries(this.type(type).properties.map((p) => [p.name, p.default]));
		// A copy each time: a node that changes what it got must not change the next call's data.
		return deepCopy({ ...defaults, ...given }) as ICredentialDataDecryptedObject;
	}

	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		type: string,
		requestOptions: IHttpRequestOptions,
	): Promise<IHttpRequestOptions> {
		const { authenticate } = this.type(type);
		if (typeof authenticate !== 'function') {
			throw new ApplicationError(`The harness applies only an authenticate function ("${type}" has none)`);
		}
		return await authenticate(credentials, requestOptions);
	}

	/** preAuthentication calls that ran the credential type's function (n8n's test path aside). */
	preAuthentications = 0;

	async preAuthentication(
		helpers: IHttpRequestHelper,
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		node: INode,
		credentialsExpired: boolean,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		const type = this.type(typeName);
		const expirable = type.properties.find((p) => p.type === 'hidden' && p.typeOptions?.expirable === true);
		if (expirable === undefined || typeof type.preAuthentication !== 'function') return undefined;
		if (credentials[expirable.name] !== '' && !credentialsExpired) return undefined;
		this.preAuthentications++;
		const output = await type.preAuthentication.call(helpers, credentials);
		if (output[expirable.name] === undefined || !node.credentials) return undefined;
		// What updateCredentials stores: the credential as given, with the new expirable value.
		this.data[typeName] = { ...this.data[typeName], ...output } as ICredentialDataDecryptedObject;
		return Object.assign(credentials, output);
	}

	/** The credential data as stored now (after any preAuthentication). */
	stored(): Record<string, ICredentialDataDecryptedObject> {
		return deepCopy(this.data);
	}

	async getCredentials(): Promise<never> {
		throw new ApplicationError('getCredentials is not used by workflow executions');
	}

	async updateCredentials(): Promise<void> {
		throw new ApplicationError('The harness does not store credentials');
	}

	async updateCredentialsOauthTokenData(): Promise<void> {
		throw new ApplicationError('The harness does not store credentials');
	}
}

// ---------------------------------------------------------------------------------------------
// Running a workflow
// ---------------------------------------------------------------------------------------------

/** A node as written in workflow JSON; id, position, typeVersion and parameters may be left out. */
export type WorkflowNode = Pick<INode, 'name' | 'type'> & Partial<INode>;

export interface WorkflowInput {
	nodes: WorkflowNode[];
	connections: IConnections;
}

export interface RunOptions {
	/** Node types by the `type` in the workflow JSON (the two above are always there). */
	nodeTypes?: Record<string, INodeType>;
	/** Instances of the credential classes. */
	credentialTypes?: ICredentialType[];
	/** Credential data by credential type name; nodes that take that type get it. */
	credentials?: Record<string, ICredentialDataDecryptedObject>;
	binaryDataMode?: BinaryDataMode;
	/** The workflow's time zone setting (n8n's default otherwise). */
	timezone?: string;
	/** Called once the run has started, with a function that cancels it (as the editor's Stop button). */
	onStart?: (cancel: () => void) => void;
}

export interface RunResult {
	status: ExecutionStatus;
	/** True when the execution ended successfully (not waiting, no error). */
	finished: boolean;
	executionId: string;
	runData: IRunData;
	/** The execution's error (a node failed without continue-on-fail). */
	error?: ExecutionError;
	/** Set when a node called `putExecutionToWait`. */
	waitTill?: Date;
	/** `$execution.resumeUrl` of this execution. */
	resumeUrl: string;
	/** Statuses the engine set while running (`'waiting'` when a node put it to wait). */
	statusUpdates: ExecutionStatus[];
	/** The nodes as they ran: ids, type versions and credentials filled in. */
	nodes: INode[];
	/** Log lines written during this run. */
	logLines: LogLine[];
	/** The credentials as stored after the run (a renewed expirable field included): give them to the next run. */
	storedCredentials: Record<string, ICredentialDataDecryptedObject>;
	/** How often n8n's preAuthentication ran the credential type's function. */
	preAuthentications: number;
	/** Items of a node's output (first run). Throws, saying what ran, if there are none. */
	outputOf(nodeName: string, outputIndex?: number): INodeExecutionData[];
}

const BASE_URL = 'http://127.0.0.1:5678';
const WORKFLOW = { id: 'engineTestWorkflow', name: 'Engine test workflow' };
let executions = 0;

function prepareNodes(workflow: WorkflowInput, types: NodeTypes, opts: RunOptions): INode[] {
	return workflow.nodes.map((input) => {
		const n = deepCopy(input) as INode;
		const { description } = types.getByName(n.type);
		n.id ??= randomUUID();
		n.position ??= [0, 0];
		n.parameters ??= {};
		n.typeVersion ??= Array.isArray(description.version) ? Math.max(...description.version) : description.version;
		// As a user picks the credential in the editor: nodes that take a given type get it.
		for (const { name } of description.credentials ?? []) {
			if (opts.credentials?.[name] && !n.credentials?.[name]) {
				n.credentials = { ...n.credentials, [name]: { id: `test-${name}`, name } };
			}
		}
		return n;
	});
}

/** Runs a workflow from its Manual Trigger, in 'manual' mode, as the editor's "Execute workflow". */
export async function runWorkflow(workflow: WorkflowInput, opts: RunOptions = {}): Promise<RunResult> {
	await useBinaryDataMode(opts.binaryDataMode ?? 'default');
	const credentialTypes = new Map((opts.credentialTypes ?? []).map((type) => [type.name, type]));
	for (const name of Object.keys(opts.credentials ?? {})) {
		if (!credentialTypes.has(name)) throw new ApplicationError(`Credentials "${name}" given without their type in credentialTypes`);
	}
	const types = new NodeTypes({ [MANUAL_TRIGGER_TYPE]: new ManualTrigger(), [ITEMS_NODE_TYPE]: new Items(), ...opts.nodeTypes });
	const nodes = prepareNodes(workflow, types, opts);
	const executionId = String(++executions);
	const wf = new Workflow({
		...WORKFLOW,
		nodes: deepCopy(nodes),
		connections: deepCopy(workflow.connections),
		active: false,
		nodeTypes: types,
		settings: { executionOrder: 'v1', ...(opts.timezone ? { timezone: opts.timezone } : {}) },
	});

	const statusUpdates: ExecutionStatus[] = [];
	const firstLine = logLines.length;
	const credentialsHelper = new TestCredentials(credentialTypes, deepCopy(opts.credentials ?? {}));
	const additionalData = {
		credentialsHelper,
		hooks: new ExecutionLifecycleHooks('manual', executionId, {
			...WORKFLOW,
			nodes,
			connections: workflow.connections,
			active: false,
			activeVersionId: null,
			isArchived: false,
			createdAt: new Date(),
			updatedAt: new Date(),
		}),
		executionId,
		currentNodeExecutionIndex: 0,
		instanceBaseUrl: BASE_URL,
		restApiUrl: `${BASE_URL}/rest`,
		webhookBaseUrl: `${BASE_URL}/webhook`,
		webhookWaitingBaseUrl: `${BASE_URL}/webhook-waiting`,
		webhookTestBaseUrl: `${BASE_URL}/webhook-test`,
		formWaitingBaseUrl: `${BASE_URL}/form-waiting`,
		variables: {},
		setExecutionStatus: (status: ExecutionStatus) => statusUpdates.push(status),
		logAiEvent: () => {},
		getRunExecutionData: async () => undefined,
		executeWorkflow: async () => {
			throw new ApplicationError('The engine harness does not run sub-workflows');
		},
		startRunnerTask: async () => {
			throw new ApplicationError('The engine harness has no task runner (Code node)');
		},
	} as unknown as IWorkflowExecuteAdditionalData;

	const engineRun = new WorkflowExecute(additionalData, 'manual');
	let run: IRun;
	try {
		const running = engineRun.run(wf);
		opts.onStart?.(() => running.cancel());
		run = await running;
	} catch (error) {
		// The engine says only "has issues" (thrown before run() returns its promise): say which.
		if (!(error instanceof WorkflowHasIssuesError)) throw error;
		const issues = engineRun.checkReadyForExecution(wf, { startNode: wf.getStartNode()?.name });
		throw new ApplicationError(`${error.message}: ${safeStringify(issues)}`);
	}

	const { runData, error } = run.data.resultData;
	const waitTill = run.waitTill ?? run.data.waitTill;
	return {
		status: run.status,
		finished: run.finished === true,
		executionId,
		runData,
		error,
		waitTill: waitTill ? new Date(waitTill) : undefined,
		resumeUrl: `${BASE_URL}/webhook-waiting/${executionId}`,
		statusUpdates,
		nodes,
		logLines: logLines.slice(firstLine),
		storedCredentials: credentialsHelper.stored(),
		preAuthentications: credentialsHelper.preAuthentications,
		outputOf(nodeName, outputIndex = 0) {
			const task = runData[nodeName]?.[0];
			const items = task?.data?.main?.[outputIndex];
			if (items) return items;
			const ran = Object.keys(runData).join(', ') || 'none';
			throw new Error(`"${nodeName}" has no output ${outputIndex} (${task?.error ? `it failed: ${task.error.message}` : `nodes that ran: ${ran}`})`);
		},
	};
}
