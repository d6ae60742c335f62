/**
 * Engine test harness: runs workflow JSON through n8n-core's own `WorkflowExecute`, calls trigger
 * nodes' `webhook()` through n8n-core's own `WebhookContext`, and resumes waiting executions the way
 * n8n's WaitingWebhooks does, so that engine tests exercise a node exactly as n8n 1.123 (n8n-core
 * 1.122, n8n-workflow 1.120) runs it.
 *
 * What is real here: the execution loop, node execution contexts and helpers
 * (`httpRequestWithAuthentication`, `prepareBinaryData`, `getBinaryStream`, `putExecutionToWait`,
 * `continueOnFail`, paired items), the expression engine (Tournament, n8n's "legacy" engine),
 * parameter defaults, the BinaryDataService (default and filesystem modes), the DI container.
 * What is emulated (n8n's CLI package is not installed): the credentials helper (ported from
 * n8n's `CredentialsHelper`: defaults, generic `authenticate`, `preAuthentication`), the webhook
 * request pipeline (body parsing, response decision tree of `WebhookHelpers.executeWebhook`), the
 * waiting-webhook resume, an Express-like request/response pair, and the storage of executions
 * (kept in memory; a JSON round trip stands in for the database).
 */
import { Logger } from '@n8n/backend-common';
import { InstanceSettingsConfig } from '@n8n/config';
import { Container } from '@n8n/di';
import {
	BinaryDataService,
	Credentials,
	ErrorReporter,
	ExecutionLifecycleHooks,
	HookContext,
	InstanceSettings,
	WebhookContext,
	WorkflowExecute,
	WorkflowHasIssuesError,
	getAdditionalKeys,
	parseIncomingMessage,
} from 'n8n-core';
import { ScheduledTaskManager } from 'n8n-core/dist/execution-engine/scheduled-task-manager';
import { SSHClientsManager } from 'n8n-core/dist/execution-engine/ssh-clients-manager';
import type {
	ExecutionError,
	ExecutionStatus,
	IBinaryData,
	ICredentialDataDecryptedObject,
	ICredentialsExpressionResolveValues,
	ICredentialType,
	IDataObject,
	IExecuteData,
	IExecuteFunctions,
	IHttpRequestHelper,
	IHttpRequestMethods,
	IHttpRequestOptions,
	INode,
	INodeCredentialsDetails,
	INodeExecutionData,
	INodeParameters,
	INodeProperties,
	INodeType,
	INodeTypeDescription,
	INodeTypes,
	IPinData,
	IRequestOptionsSimplified,
	IRun,
	IRunData,
	IRunExecutionData,
	ITriggerFunctions,
	ITriggerResponse,
	IVersionedNodeType,
	IWebhookData,
	IWebhookDescription,
	IWebhookResponseData,
	IWorkflowBase,
	IWorkflowDataProxyAdditionalKeys,
	IWorkflowExecuteAdditionalData,
	IWorkflowSettings,
	WebhookSetupMethodNames,
	WebhookType,
	WorkflowActivateMode,
	WorkflowExecuteMode,
	IConnections,
} from 'n8n-workflow';
import {
	ApplicationError,
	ICredentialsHelper,
	LoggerProxy,
	Node,
	NodeConnectionTypes,
	NodeHelpers,
	NodeOperationError,
	Workflow,
	createRunExecutionData,
	deepCopy,
	isExpression,
	jsonParse,
} from 'n8n-workflow';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { IncomingMessage, STATUS_CODES, createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseQueryString } from 'node:querystring';
import { Readable, Writable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';

// ---------------------------------------------------------------------------------------------
// Log collection
// ---------------------------------------------------------------------------------------------

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LogLine {
	level: LogLevel;
	message: string;
	metadata: unknown;
	/** `level: message {metadata as JSON}` — what to search for leaked secrets. */
	text: string;
}

/** Every line n8n-core and n8n-workflow logged (all levels, debug included) since the last clear. */
export const logLines: LogLine[] = [];

export function clearLogLines(): void {
	logLines.length = 0;
}

/** JSON.stringify that survives cycles, Errors (message, stack, own props), Buffers and BigInts. */
export function safeStringify(value: unknown): string {
	const seen = new WeakSet<object>();
	try {
		return (
			JSON.stringify(value, function (_key, val: unknown) {
				if (typeof val === 'bigint') return val.toString();
				if (val instanceof Error) {
					const own: Record<string, unknown> = {};
					for (const k of Object.getOwnPropertyNames(val)) own[k] = (val as never)[k];
					return { name: val.name, message: val.message, stack: val.stack, ...own };
				}
				if (val && typeof val === 'object') {
					const asJson = val as { type?: string; data?: unknown };
					if (asJson.type === 'Buffer' && Array.isArray(asJson.data)) {
						return `<Buffer ${Buffer.from(asJson.data as number[]).toString('utf8')}>`;
					}
					if (seen.has(val)) return '[Circular]';
					seen.add(val);
				}
				return val;
			}) ?? ''
		);
	} catch (error) {
		return `[unserialisable: ${(error as Error).message}]`;
	}
}

/** The logger n8n-core gets from the DI container and n8n-workflow's LoggerProxy. */
class CollectingLogger {
	error(message: string, metadata: unknown = {}) {
		this.log('error', message, metadata);
	}

	warn(message: string, metadata: unknown = {}) {
		this.log('warn', message, metadata);
	}

	info(message: string, metadata: unknown = {}) {
		this.log('info', message, metadata);
	}

	debug(message: string, metadata: unknown = {}) {
		this.log('debug', message, metadata);
	}

	scoped() {
		return this;
	}

	private log(level: LogLevel, message: string, metadata: unknown) {
		const text = `${level}: ${message} ${safeStringify(metadata)}`;
		logLines.push({ level, message, metadata, text });
		if (process.env.ENGINE_HARNESS_LOG) {
			// eslint-disable-next-line no-console
			console.log(`[n8n] ${text}`);
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Engine set-up (DI container, instance settings, binary data)
// ---------------------------------------------------------------------------------------------

interface EngineState {
	/** Temporary n8n user folder: settings file, binaryData/, uploads/. */
	dir: string;
	binaryDataService: BinaryDataService;
}

let engineState: Promise<EngineState> | undefined;

/**
 * Sets up what n8n-core 1.122 takes from the DI container at run time. Idempotent; called by
 * every entry point. Works in a fresh temporary folder, never in ~/.n8n.
 */
export async function initEngine(): Promise<EngineState> {
	engineState ??= (async () => {
		const dir = mkdtempSync(path.join(tmpdir(), 'n8n-engine-'));
		const logger = new CollectingLogger();
		Container.set(Logger, logger as unknown as Logger);
		LoggerProxy.init(logger);
		// InstanceSettings reads its folder and key from this config object; point it to the
		// temporary folder before anything constructs InstanceSettings. The settings file is
		// written beforehand with the permissions n8n wants (0600), so it does not warn.
		const n8nFolder = path.join(dir, '.n8n');
		const encryptionKey = 'engine-harness-encryption-key';
		mkdirSync(n8nFolder, { recursive: true });
		writeFileSync(path.join(n8nFolder, 'config'), JSON.stringify({ encryptionKey }), { mode: 0o600 });
		Object.assign(Container.get(InstanceSettingsConfig), { userHome: dir, n8nFolder, encryptionKey });
		Container.get(InstanceSettings);
		// BinaryDataConfig defaults: availableModes ['filesystem'], storage in <n8nFolder>/binaryData.
		const binaryDataService = Container.get(BinaryDataService);
		await binaryDataService.init();
		// ErrorReporter without Sentry logs reported errors through the Logger, as n8n does.
		Container.get(ErrorReporter);
		// Every TriggerContext (the Manual Trigger's too) constructs these two singletons, and each
		// starts a housekeeping interval that would keep Jest from exiting: let them not hold the
		// process open.
		for (const timer of [
			(Container.get(SSHClientsManager) as unknown as { cleanupTimer?: NodeJS.Timeout }).cleanupTimer,
			(Container.get(ScheduledTaskManager) as unknown as { logInterval?: NodeJS.Timeout }).logInterval,
		]) {
			timer?.unref();
		}
		return { dir, binaryDataService };
	})();
	return await engineState;
}

/** Removes the temporary folder (binary data files, uploads). Call in `afterAll`. */
export async function cleanupEngine(): Promise<void> {
	if (!engineState) return;
	const { dir } = await engineState;
	rmSync(dir, { recursive: true, force: true });
}

export type BinaryDataMode = 'default' | 'filesystem';

function setBinaryDataMode(service: BinaryDataService, mode: BinaryDataMode = 'default') {
	// n8n maps the configured 'filesystem' mode to 'filesystem-v2' in BinaryDataService.init().
	(service as unknown as { mode: string }).mode = mode === 'filesystem' ? 'filesystem-v2' : 'default';
}

/** Reads a binary property's content the way n8n does (inline base64 or a stored file). */
export async function getBinaryBuffer(binary: IBinaryData): Promise<Buffer> {
	const { binaryDataService } = await initEngine();
	return await binaryDataService.getAsBuffer(binary);
}

// ---------------------------------------------------------------------------------------------
// Built-in node types (n8n-nodes-base is not installed)
// ---------------------------------------------------------------------------------------------

export const MANUAL_TRIGGER_TYPE = 'n8n-nodes-base.manualTrigger';
export const ITEMS_NODE_TYPE = 'test.items';
export const NOOP_NODE_TYPE = 'test.noOp';

/** Same behaviour as n8n-nodes-base's Manual Trigger: emits one empty item. */
class ManualTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Manual Trigger',
		name: 'manualTrigger',
		icon: 'fa:mouse-pointer',
		group: ['trigger'],
		version: 1,
		description: 'Runs the flow on clicking a button in n8n',
		maxNodes: 1,
		defaults: { name: "When clicking 'Execute workflow'" },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		properties: [],
	};

	async trigger(this: ITriggerFunctions): Promise<ITriggerResponse> {
		const manualTriggerFunction = async () => {
			this.emit([this.helpers.returnJsonArray([{}])]);
		};
		return { manualTriggerFunction };
	}
}

/** Emits the items of its `items` parameter (a JSON array of objects, or an expression giving one). */
class ItemsNode implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Test Items',
		name: 'items',
		group: ['transform'],
		version: 1,
		description: 'Emits fixed items (engine test harness)',
		defaults: { name: 'Items' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		properties: [{ displayName: 'Items (JSON)', name: 'items', type: 'json', default: '[]' }],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const raw = this.getNodeParameter('items', 0) as unknown;
		const parsed: unknown = typeof raw === 'string' ? jsonParse(raw) : raw;
		if (!Array.isArray(parsed)) {
			throw new NodeOperationError(this.getNode(), 'Parameter "items" must be a JSON array');
		}
		return [parsed.map((json: IDataObject) => ({ json, pairedItem: { item: 0 } }))];
	}
}

/** Passes its input through unchanged. */
class NoOpNode implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Test No Op',
		name: 'noOp',
		group: ['transform'],
		version: 1,
		description: 'Passes items through (engine test harness)',
		defaults: { name: 'No Op' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		properties: [],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [this.getInputData()];
	}
}

export const builtinNodeTypes: Record<string, INodeType> = {
	[MANUAL_TRIGGER_TYPE]: new ManualTrigger(),
	[ITEMS_NODE_TYPE]: new ItemsNode(),
	[NOOP_NODE_TYPE]: new NoOpNode(),
};

class HarnessNodeTypes implements INodeTypes {
	constructor(readonly types: Record<string, INodeType | IVersionedNodeType>) {}

	getByName(nodeType: string): INodeType | IVersionedNodeType {
		const type = this.types[nodeType];
		if (!type) {
			throw new ApplicationError(
				`Unknown node type "${nodeType}"; pass it in opts.nodeTypes (known: ${Object.keys(this.types).join(', ')})`,
			);
		}
		return type;
	}

	getByNameAndVersion(nodeType: string, version?: number): INodeType {
		return NodeHelpers.getVersionedNodeType(this.getByName(nodeType), version);
	}

	getKnownTypes(): IDataObject {
		return Object.fromEntries(Object.keys(this.types).map((t) => [t, { className: t, sourcePath: '' }]));
	}
}

function defaultVersionOf(type: INodeType | IVersionedNodeType): number {
	if ('nodeVersions' in type) return type.currentVersion;
	const { version, defaultVersion } = type.description;
	if (defaultVersion !== undefined) return defaultVersion;
	return Array.isArray(version) ? Math.max(...version) : version;
}

// ---------------------------------------------------------------------------------------------
// Credentials helper (ported from n8n's packages/cli CredentialsHelper)
// ---------------------------------------------------------------------------------------------

export class HarnessCredentialsHelper extends ICredentialsHelper {
	/** Every `updateCredentials`/`updateCredentialsOauthTokenData` call (e.g. from preAuthentication). */
	readonly updates: Array<{ type: string; data: ICredentialDataDecryptedObject }> = [];

	private readonly types = new Map<string, ICredentialType>();

	constructor(
		private readonly data: Record<string, ICredentialDataDecryptedObject>,
		credentialTypes: ICredentialType[] = [],
	) {
		super();
		for (const type of credentialTypes) this.types.set(type.name, type);
	}

	getCredentialType(name: string): ICredentialType {
		const type = this.types.get(name);
		if (!type) {
			throw new ApplicationError(
				`Unknown credential type "${name}": pass an instance of its class in opts.credentialTypes`,
			);
		}
		return type;
	}

	getParentTypes(name: string): string[] {
		const type = this.types.get(name);
		if (!type?.extends) return [];
		return type.extends.flatMap((parent) => [parent, ...this.getParentTypes(parent)]);
	}

	/** n8n's generic `authenticate`: resolves `={{$credentials.x}}` into headers/qs/body/auth. */
	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		incomingRequestOptions: IHttpRequestOptions | IRequestOptionsSimplified,
		workflow: Workflow,
		node: INode,
	): Promise<IHttpRequestOptions> {
		const requestOptions = incomingRequestOptions;
		const credentialType = this.getCredentialType(typeName);
		const { authenticate } = credentialType;
		if (typeof authenticate === 'function') {
			return await authenticate(credentials, requestOptions as IHttpRequestOptions);
		}
		if (typeof authenticate === 'object') {
			requestOptions.headers ??= {};
			if (authenticate.type === 'generic') {
				for (const [outerKey, outerValue] of Object.entries(authenticate.properties)) {
					for (const [key, value] of Object.entries(outerValue as IDataObject)) {
						const keyResolved = this.resolveValue(key, { $credentials: credentials }, workflow, node);
						const valueResolved = this.resolveValue(
							value as string,
							{ $credentials: credentials },
							workflow,
							node,
						);
						const target = requestOptions as unknown as Record<string, IDataObject>;
						target[outerKey] ??= {};
						target[outerKey][keyResolved] = valueResolved;
					}
				}
			}
		}
		return requestOptions as IHttpRequestOptions;
	}

	private resolveValue(
		parameterValue: string,
		additionalKeys: IWorkflowDataProxyAdditionalKeys,
		workflow: Workflow,
		node: INode,
	): string {
		if (!isExpression(parameterValue)) return parameterValue;
		const returnValue = workflow.expression.getSimpleParameterValue(
			node,
			parameterValue,
			'internal',
			additionalKeys,
			undefined,
			'',
		);
		if (!returnValue) return '';
		return returnValue.toString();
	}

	async preAuthentication(
		helpers: IHttpRequestHelper,
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		node: INode,
		credentialsExpired: boolean,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		const credentialType = this.getCredentialType(typeName);
		const expirableProperty = credentialType.properties.find(
			(property) => property.type === 'hidden' && property?.typeOptions?.expirable === true,
		);
		if (expirableProperty?.name === undefined) return undefined;
		const isTestingCredentials =
			node?.parameters?.temp === '' && node?.type === 'n8n-nodes-base.noOp';
		if (typeof credentialType.preAuthentication === 'function') {
			if (
				credentials[expirableProperty.name] === '' ||
				credentialsExpired ||
				isTestingCredentials
			) {
				const output = await credentialType.preAuthentication.call(helpers, credentials);
				if (output[expirableProperty.name] === undefined) return undefined;
				if (node.credentials) {
					await this.updateCredentials(
						node.credentials[credentialType.name],
						credentialType.name,
						Object.assign(credentials, output),
					);
					return Object.assign(credentials, output);
				}
			}
		}
		return undefined;
	}

	async getCredentials(nodeCredentials: INodeCredentialsDetails, type: string): Promise<Credentials> {
		const credentials = new Credentials(
			{ id: nodeCredentials.id ?? null, name: nodeCredentials.name },
			type,
		);
		credentials.setData(this.data[type] ?? {});
		return credentials;
	}

	/** Stored data + the credential type's defaults, expressions resolved (as n8n's getDecrypted). */
	async getDecrypted(
		additionalData: IWorkflowExecuteAdditionalData,
		nodeCredentials: INodeCredentialsDetails,
		type: string,
		mode: WorkflowExecuteMode,
		executeData?: IExecuteData,
		raw?: boolean,
		expressionResolveValues?: ICredentialsExpressionResolveValues,
	): Promise<ICredentialDataDecryptedObject> {
		const stored = this.data[type];
		if (stored === undefined) {
			throw new ApplicationError(
				`Credential with ID "${nodeCredentials.id}" does not exist for type "${type}" (pass it in opts.credentials)`,
			);
		}
		const original = deepCopy(stored);
		if (raw === true) return original;

		const withDefaults = (NodeHelpers.getNodeParameters(
			this.getCredentialsProperties(type),
			original as INodeParameters,
			true,
			false,
			null,
			null,
		) ?? {}) as ICredentialDataDecryptedObject;
		for (const key of Object.keys(original)) {
			if (withDefaults[key] === undefined) withDefaults[key] = original[key];
		}

		if (expressionResolveValues && Object.values(withDefaults).some((v) => isExpression(v))) {
			const { workflow, runExecutionData, runIndex, itemIndex, node, connectionInputData } =
				expressionResolveValues;
			const additionalKeys = getAdditionalKeys(additionalData, mode, null);
			return workflow.expression.getParameterValue(
				withDefaults as INodeParameters,
				runExecutionData,
				runIndex,
				itemIndex,
				node.name,
				connectionInputData,
				mode,
				additionalKeys,
				executeData,
				false,
				withDefaults,
			) as ICredentialDataDecryptedObject;
		}
		return withDefaults;
	}

	async updateCredentials(
		_nodeCredentials: INodeCredentialsDetails,
		type: string,
		data: ICredentialDataDecryptedObject,
	): Promise<void> {
		this.data[type] = deepCopy(data);
		this.updates.push({ type, data: deepCopy(data) });
	}

	async updateCredentialsOauthTokenData(
		nodeCredentials: INodeCredentialsDetails,
		type: string,
		data: ICredentialDataDecryptedObject,
	): Promise<void> {
		await this.updateCredentials(nodeCredentials, type, data);
	}

	getCredentialsProperties(type: string): INodeProperties[] {
		const credentialType = this.types.get(type);
		if (!credentialType) return [];
		if (credentialType.extends === undefined) return credentialType.properties;
		const combined: INodeProperties[] = [];
		for (const parent of credentialType.extends) {
			NodeHelpers.mergeNodeProperties(combined, this.getCredentialsProperties(parent));
		}
		NodeHelpers.mergeNodeProperties(combined, credentialType.properties);
		return combined;
	}
}

// ---------------------------------------------------------------------------------------------
// Options, workflow input, additional data
// ---------------------------------------------------------------------------------------------

/** A node as written in workflow JSON; id, position, typeVersion and parameters may be omitted. */
export type WorkflowNode = Pick<INode, 'name' | 'type'> & Partial<INode>;

export interface WorkflowInput {
	nodes: WorkflowNode[];
	connections: IConnections;
	id?: string;
	name?: string;
	/** Default `{ executionOrder: 'v1' }` (what n8n gives new workflows). */
	settings?: IWorkflowSettings;
	pinData?: IPinData;
}

export interface EngineOptions {
	/** Node types keyed by the `type` string in the workflow JSON (built-ins are always there). */
	nodeTypes?: Record<string, INodeType | IVersionedNodeType>;
	/** Decrypted credential data keyed by credential type name. */
	credentials?: Record<string, ICredentialDataDecryptedObject>;
	/** Instances of the credential classes, so `authenticate`, defaults and `extends` apply. */
	credentialTypes?: ICredentialType[];
	binaryDataMode?: BinaryDataMode;
	/** Instance base URL for webhook/resume URLs, default `http://127.0.0.1:5678`. */
	baseUrl?: string;
	/**
	 * Gives nodes that declare a credential type present in `credentials` a `credentials` entry
	 * when the workflow JSON has none. Default true. Set false to test a workflow JSON as written.
	 */
	autoAssignCredentials?: boolean;
}

export interface RunWorkflowOptions extends EngineOptions {
	/** Default 'manual' (as the editor runs it), or 'webhook' when `startFrom` is given. */
	mode?: WorkflowExecuteMode;
	pinData?: IPinData;
	/** Start from this node with this output instead of the trigger (as n8n does after a webhook). */
	startFrom?: { nodeName: string; data: INodeExecutionData[][] };
	/** Resume URLs then point at this server, and waiting runs register with it. */
	waitingServer?: WaitingWebhookServer;
	executionId?: string;
	/** Workflow static data (shared with later resumes of this execution). */
	staticData?: IDataObject;
}

interface Urls {
	instanceBaseUrl: string;
	restApiUrl: string;
	webhookBaseUrl: string;
	webhookWaitingBaseUrl: string;
	webhookTestBaseUrl: string;
	formWaitingBaseUrl: string;
}

function urlsFor(baseUrl = 'http://127.0.0.1:5678'): Urls {
	const base = baseUrl.replace(/\/$/, '');
	return {
		instanceBaseUrl: base,
		restApiUrl: `${base}/rest`,
		webhookBaseUrl: `${base}/webhook`,
		webhookWaitingBaseUrl: `${base}/webhook-waiting`,
		webhookTestBaseUrl: `${base}/webhook-test`,
		formWaitingBaseUrl: `${base}/form-waiting`,
	};
}

let executionCounter = 0;
function nextExecutionId(): string {
	executionCounter += 1;
	return String(executionCounter);
}

const DEFAULT_WORKFLOW_ID = 'engineHarnessWf1';

function createAdditionalData(params: {
	credentialsHelper: HarnessCredentialsHelper;
	urls: Urls;
	hooks?: ExecutionLifecycleHooks;
	executionId?: string;
	httpRequest?: unknown;
	httpResponse?: unknown;
	statusLog?: ExecutionStatus[];
}): IWorkflowExecuteAdditionalData {
	const notSupported = (what: string) => async () => {
		throw new ApplicationError(`${what} is not supported by the engine test harness`);
	};
	const additionalData = {
		credentialsHelper: params.credentialsHelper,
		executeWorkflow: notSupported('Executing a sub-workflow'),
		getRunExecutionData: async () => undefined,
		executionId: params.executionId,
		currentNodeExecutionIndex: 0,
		...params.urls,
		variables: {},
		logAiEvent: () => {},
		startRunnerTask: notSupported('Running a task-runner task (Code node)'),
		hooks: params.hooks,
		httpRequest: params.httpRequest,
		httpResponse: params.httpResponse,
		setExecutionStatus: (status: ExecutionStatus) => params.statusLog?.push(status),
	};
	return additionalData as unknown as IWorkflowExecuteAdditionalData;
}

interface EngineContext {
	workflow: Required<Pick<WorkflowInput, 'id' | 'settings'>> & WorkflowInput & { nodes: INode[] };
	nodeTypes: HarnessNodeTypes;
	credentialsHelper: HarnessCredentialsHelper;
	opts: RunWorkflowOptions;
	urls: Urls;
	mode: WorkflowExecuteMode;
	executionId: string;
	staticData: IDataObject;
}

function prepareNodes(
	nodes: WorkflowNode[],
	nodeTypes: HarnessNodeTypes,
	opts: EngineOptions,
): INode[] {
	return nodes.map((input) => {
		const node = deepCopy(input) as INode;
		const type = nodeTypes.getByName(node.type);
		node.id ??= randomUUID();
		node.position ??= [0, 0];
		node.parameters ??= {};
		node.typeVersion ??= defaultVersionOf(type);
		if (opts.autoAssignCredentials !== false && opts.credentials) {
			const description = nodeTypes.getByNameAndVersion(node.type, node.typeVersion).description;
			for (const { name } of description.credentials ?? []) {
				if (opts.credentials[name] !== undefined && !node.credentials?.[name]) {
					node.credentials = {
						...node.credentials,
						[name]: { id: `cred-${name}`, name: `${name} (engine harness)` },
					};
				}
			}
		}
		return node;
	});
}

function makeContext(workflow: WorkflowInput, opts: RunWorkflowOptions, defaultMode: WorkflowExecuteMode) {
	const nodeTypes = new HarnessNodeTypes({ ...builtinNodeTypes, ...opts.nodeTypes });
	const credentialTypes = opts.credentialTypes ?? [];
	for (const name of Object.keys(opts.credentials ?? {})) {
		if (!credentialTypes.some((t) => t.name === name)) {
			throw new ApplicationError(
				`Credentials for "${name}" were given but its credential type was not: add an instance of its class to opts.credentialTypes`,
			);
		}
	}
	const ctx: EngineContext = {
		workflow: {
			...workflow,
			id: workflow.id ?? DEFAULT_WORKFLOW_ID,
			settings: workflow.settings ?? { executionOrder: 'v1' },
			nodes: prepareNodes(workflow.nodes, nodeTypes, opts),
			connections: deepCopy(workflow.connections),
		},
		nodeTypes,
		credentialsHelper: new HarnessCredentialsHelper(deepCopy(opts.credentials ?? {}), credentialTypes),
		opts,
		urls: urlsFor(opts.waitingServer?.baseUrl ?? opts.baseUrl),
		mode: opts.mode ?? defaultMode,
		executionId: opts.executionId ?? nextExecutionId(),
		staticData: opts.staticData ?? {},
	};
	return ctx;
}

/** A fresh `Workflow` (n8n builds one per execution; the constructor fills parameter defaults). */
function buildWorkflow(ctx: EngineContext): Workflow {
	const { workflow } = ctx;
	return new Workflow({
		id: workflow.id,
		name: workflow.name ?? 'Engine harness workflow',
		nodes: deepCopy(workflow.nodes),
		connections: deepCopy(workflow.connections),
		active: false,
		nodeTypes: ctx.nodeTypes,
		settings: workflow.settings,
		staticData: ctx.staticData,
		pinData: workflow.pinData,
	});
}

function workflowBase(ctx: EngineContext): IWorkflowBase {
	return {
		id: ctx.workflow.id,
		name: ctx.workflow.name ?? 'Engine harness workflow',
		active: false,
		isArchived: false,
		createdAt: new Date(),
		updatedAt: new Date(),
		nodes: ctx.workflow.nodes,
		connections: ctx.workflow.connections,
		settings: ctx.workflow.settings,
	} as IWorkflowBase;
}

// ---------------------------------------------------------------------------------------------
// Running workflows
// ---------------------------------------------------------------------------------------------

export interface RunResult {
	/** What `WorkflowExecute` returned. */
	run: IRun;
	status: ExecutionStatus;
	/** True when the execution finished successfully (not waiting, no error). */
	finished: boolean;
	executionId: string;
	mode: WorkflowExecuteMode;
	runData: IRunData;
	/** The execution's error (a node failed without continue-on-fail). */
	error?: ExecutionError;
	lastNodeExecuted?: string;
	/** Set when a node called `putExecutionToWait`. */
	waitTill?: Date;
	/** `$execution.resumeUrl` of this execution. */
	resumeUrl: string;
	/** Node names in the order they finished. */
	nodeExecutionOrder: string[];
	/** Execution statuses reported through `additionalData.setExecutionStatus` (e.g. 'waiting'). */
	statusUpdates: ExecutionStatus[];
	/** Log lines written during this run. */
	logLines: LogLine[];
	staticData: IDataObject;
	credentialsHelper: HarnessCredentialsHelper;
	/** Items of a node's output (default: first output of the first run). Throws if it has none. */
	outputOf(nodeName: string, outputIndex?: number, runIndex?: number): INodeExecutionData[];
	/** The error stored on a node's run, if any. */
	errorOf(nodeName: string, runIndex?: number): ExecutionError | undefined;
	/** @internal for resumeWorkflow */
	readonly engineContext: EngineContext;
}

function makeRunResult(
	ctx: EngineContext,
	run: IRun,
	nodeExecutionOrder: string[],
	statusUpdates: ExecutionStatus[],
	lines: LogLine[],
): RunResult {
	const { resultData } = run.data;
	const runData = resultData.runData;
	const describe = () => {
		const errors = Object.entries(runData)
			.flatMap(([name, tasks]) => tasks.map((t) => (t.error ? `${name}: ${t.error.message}` : '')))
			.filter(Boolean);
		return `Nodes that ran: ${Object.keys(runData).join(', ') || '(none)'}.${
			resultData.error ? ` Execution error: ${resultData.error.message}.` : ''
		}${errors.length ? ` Node errors: ${errors.join('; ')}` : ''}`;
	};
	const waitTill = run.waitTill ?? run.data.waitTill;
	return {
		run,
		status: run.status,
		finished: run.finished === true,
		executionId: ctx.executionId,
		mode: ctx.mode,
		runData,
		error: resultData.error,
		lastNodeExecuted: resultData.lastNodeExecuted,
		waitTill: waitTill ? new Date(waitTill) : undefined,
		resumeUrl: `${ctx.urls.webhookWaitingBaseUrl}/${ctx.executionId}`,
		nodeExecutionOrder,
		statusUpdates,
		logLines: lines,
		staticData: ctx.staticData,
		credentialsHelper: ctx.credentialsHelper,
		engineContext: ctx,
		outputOf(nodeName, outputIndex = 0, runIndex = 0) {
			const task = runData[nodeName]?.[runIndex];
			if (!task) throw new Error(`Node "${nodeName}" has no run ${runIndex}. ${describe()}`);
			const items = task.data?.main?.[outputIndex];
			if (!items) {
				throw new Error(
					`Node "${nodeName}" run ${runIndex} has no output ${outputIndex}${
						task.error ? ` (it failed: ${task.error.message})` : ''
					}. ${describe()}`,
				);
			}
			return items;
		},
		errorOf(nodeName, runIndex = 0) {
			return runData[nodeName]?.[runIndex]?.error;
		},
	};
}

type EngineStart =
	| { kind: 'run' }
	| { kind: 'startFrom'; nodeName: string; data: INodeExecutionData[][] }
	| { kind: 'continue'; runExecutionData: IRunExecutionData };

async function executeEngine(ctx: EngineContext, start: EngineStart): Promise<RunResult> {
	const { binaryDataService } = await initEngine();
	setBinaryDataMode(binaryDataService, ctx.opts.binaryDataMode);
	const workflow = buildWorkflow(ctx);
	const order: string[] = [];
	const statusUpdates: ExecutionStatus[] = [];
	const firstLine = logLines.length;
	const hooks = new ExecutionLifecycleHooks(ctx.mode, ctx.executionId, workflowBase(ctx));
	hooks.addHandler('nodeExecuteAfter', (nodeName: string) => {
		order.push(nodeName);
	});
	const additionalData = createAdditionalData({
		credentialsHelper: ctx.credentialsHelper,
		urls: ctx.urls,
		hooks,
		executionId: ctx.executionId,
		statusLog: statusUpdates,
	});

	let workflowExecute: WorkflowExecute;
	let run: IRun;
	try {
		if (start.kind === 'run') {
			workflowExecute = new WorkflowExecute(additionalData, ctx.mode);
			run = await workflowExecute.run(workflow, undefined, undefined, ctx.opts.pinData);
		} else {
			let runExecutionData: IRunExecutionData;
			if (start.kind === 'startFrom') {
				const node = workflow.getNode(start.nodeName);
				if (!node) throw new Error(`startFrom: no node "${start.nodeName}" in the workflow`);
				runExecutionData = createRunExecutionData({
					executionData: { nodeExecutionStack: [{ node, data: { main: start.data }, source: null }] },
					resultData: { pinData: ctx.opts.pinData },
				});
			} else {
				runExecutionData = start.runExecutionData;
				additionalData.currentNodeExecutionIndex = Object.values(
					runExecutionData.resultData.runData,
				).reduce((n, tasks) => n + tasks.length, 0);
			}
			workflowExecute = new WorkflowExecute(additionalData, ctx.mode, runExecutionData);
			run = await workflowExecute.processRunExecutionData(workflow);
		}
	} catch (error) {
		if (error instanceof WorkflowHasIssuesError) {
			const issues = new WorkflowExecute(additionalData, ctx.mode).checkReadyForExecution(workflow, {
				startNode: start.kind === 'startFrom' ? start.nodeName : workflow.getStartNode()?.name,
			});
			throw new Error(`${error.message}: ${safeStringify(issues)}`);
		}
		throw error;
	}
	const result = makeRunResult(ctx, run, order, statusUpdates, logLines.slice(firstLine));
	if (result.waitTill && ctx.opts.waitingServer) ctx.opts.waitingServer.register(result);
	return result;
}

/**
 * Runs a workflow the way n8n runs it from the editor: `new WorkflowExecute(additionalData,
 * 'manual').run(workflow)`, starting at the trigger (a Manual Trigger), or — with `startFrom` — the
 * way n8n runs a workflow after a trigger's webhook produced data.
 */
export async function runWorkflow(workflow: WorkflowInput, opts: RunWorkflowOptions = {}): Promise<RunResult> {
	const ctx = makeContext(workflow, opts, opts.startFrom ? 'webhook' : 'manual');
	if (opts.startFrom) {
		return await executeEngine(ctx, { kind: 'startFrom', ...opts.startFrom });
	}
	return await executeEngine(ctx, { kind: 'run' });
}

// ---------------------------------------------------------------------------------------------
// Express-like request and response
// ---------------------------------------------------------------------------------------------

export interface WebhookRequestInput {
	/** Default 'POST'. */
	method?: string;
	/** Path (and query) of the request, e.g. `/webhook/abc?x=1`. Default: the webhook's own path. */
	url?: string;
	/** Alias of `url`. */
	path?: string;
	headers?: Record<string, string | string[] | undefined>;
	/** Merged into the query string of `url`. */
	query?: Record<string, string | string[]>;
	/**
	 * Parsed body. Without `rawBody` it is serialised (JSON, or as-is for strings/Buffers) and a
	 * JSON content type is assumed for objects. After n8n's body parsing, `req.body` is set to it.
	 */
	body?: unknown;
	/** The bytes on the wire; parsed like n8n's body parser according to content-type. */
	rawBody?: Buffer | string;
}

/** An http.IncomingMessage with what n8n's Express app and middlewares add. */
export type HarnessRequest = IncomingMessage & {
	body?: unknown;
	query: Record<string, string | string[] | undefined>;
	params: Record<string, string>;
	path: string;
	originalUrl: string;
	hostname: string;
	ip: string;
	protocol: string;
	cookies: Record<string, string>;
	get(name: string): string | string[] | undefined;
	header(name: string): string | string[] | undefined;
};

function readStream(stream: Readable): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		stream.on('data', (chunk: Buffer | string) => chunks.push(Buffer.from(chunk)));
		stream.on('end', () => resolve(Buffer.concat(chunks)));
		stream.on('error', reject);
	});
}

/** Adds Express's request properties and n8n's `rawBodyReader` (`readRawBody`) to a request. */
function augmentRequest(req: IncomingMessage, bodyOverride?: { value: unknown }): HarnessRequest {
	const r = req as HarnessRequest & { _bodyOverride?: { value: unknown } };
	parseIncomingMessage(req);
	const url = new URL(req.url ?? '/', 'http://127.0.0.1');
	const query: Record<string, string | string[] | undefined> = {};
	for (const key of new Set(url.searchParams.keys())) {
		const values = url.searchParams.getAll(key);
		query[key] = values.length === 1 ? values[0] : values;
	}
	const host = String(req.headers.host ?? '127.0.0.1').replace(/:\d+$/, '');
	Object.assign(r, {
		query,
		params: {},
		path: url.pathname,
		originalUrl: req.url ?? '/',
		baseUrl: '',
		hostname: host,
		host,
		ip: '127.0.0.1',
		ips: [],
		protocol: 'http',
		secure: false,
		cookies: {},
		_bodyOverride: bodyOverride,
	});
	r.get = (name: string) => req.headers[name.toLowerCase()];
	r.header = r.get;
	r.readRawBody = async () => {
		if (!r.rawBody) {
			let stream: Readable = req;
			const encoding = req.headers['content-encoding'];
			if (encoding === 'gzip') stream = req.pipe(createGunzip());
			else if (encoding === 'deflate') stream = req.pipe(createInflate());
			r.rawBody = await readStream(stream);
			r._body = true;
		}
	};
	return r;
}

/** A request that did not come over a socket: a real IncomingMessage whose stream is the raw body. */
export function buildRequest(input: WebhookRequestInput, defaultPath = '/'): HarnessRequest {
	const headers: Record<string, string | string[]> = {};
	for (const [k, v] of Object.entries(input.headers ?? {})) {
		if (v !== undefined) headers[k.toLowerCase()] = v;
	}
	let raw: Buffer | undefined;
	if (input.rawBody !== undefined) {
		raw = Buffer.from(input.rawBody);
	} else if (input.body !== undefined) {
		if (Buffer.isBuffer(input.body)) raw = input.body;
		else if (typeof input.body === 'string') raw = Buffer.from(input.body);
		else {
			raw = Buffer.from(JSON.stringify(input.body));
			headers['content-type'] ??= 'application/json';
		}
	}
	if (raw && headers['content-length'] === undefined) headers['content-length'] = String(raw.length);
	headers.host ??= '127.0.0.1';

	const url = new URL(input.url ?? input.path ?? defaultPath, 'http://127.0.0.1');
	for (const [k, v] of Object.entries(input.query ?? {})) {
		for (const value of Array.isArray(v) ? v : [v]) url.searchParams.append(k, value);
	}

	const req = new IncomingMessage(new Socket());
	req.method = (input.method ?? 'POST').toUpperCase();
	req.url = `${url.pathname}${url.search}`;
	req.headers = headers;
	req.httpVersion = '1.1';
	if (raw?.length) req.push(raw);
	req.push(null);
	// The test states the parsed body: it wins over n8n's parsing (except for raw Buffers and multipart).
	const bodyOverride =
		input.body !== undefined &&
		!Buffer.isBuffer(input.body) &&
		!String(headers['content-type'] ?? '').startsWith('multipart/')
			? { value: input.body }
			: undefined;
	return augmentRequest(req, bodyOverride);
}

async function parseMultipart(req: HarnessRequest, uploadDir: string) {
	const raw = await readStream(req);
	const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(String(req.headers['content-type']));
	const data: Record<string, string | string[]> = {};
	const files: Record<string, IDataObject | IDataObject[]> = {};
	const add = <T>(target: Record<string, T | T[]>, key: string, value: T) => {
		const existing = target[key];
		if (existing === undefined) target[key] = value;
		else target[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
	};
	if (!boundary) return { data, files };
	const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
	let pos = raw.indexOf(delimiter);
	while (pos !== -1) {
		let start = pos + delimiter.length;
		if (raw.subarray(start, start + 2).toString() === '--') break;
		start += 2;
		const next = raw.indexOf(delimiter, start);
		if (next === -1) break;
		const part = raw.subarray(start, next - 2);
		const headerEnd = part.indexOf('\r\n\r\n');
		const headerText = part.subarray(0, headerEnd).toString('utf8');
		const content = part.subarray(headerEnd + 4);
		const name = /name="([^"]*)"/i.exec(headerText)?.[1] ?? '';
		const filename = /filename="([^"]*)"/i.exec(headerText)?.[1];
		const mimetype = /content-type:\s*([^\r\n]+)/i.exec(headerText)?.[1]?.trim();
		if (filename !== undefined) {
			mkdirSync(uploadDir, { recursive: true });
			const newFilename = randomUUID();
			const filepath = path.join(uploadDir, newFilename);
			writeFileSync(filepath, content);
			add(files, name, {
				size: content.length,
				filepath,
				newFilename,
				originalFilename: filename,
				mimetype: mimetype ?? 'application/octet-stream',
				mtime: new Date().toISOString(),
			});
		} else {
			add(data, name, content.toString('utf8'));
		}
		pos = next;
	}
	return { data, files };
}

class BodyParseError extends Error {}

/** n8n 1.x webhook body handling: multipart via the form-data parser, others via parseBody. */
async function parseBodyLikeN8n(req: HarnessRequest, nodeVersion: number, uploadDir: string) {
	const { contentType } = req;
	if (contentType === 'multipart/form-data') {
		req.body = await parseMultipart(req, uploadDir);
		return;
	}
	const parsable =
		contentType?.startsWith('application/json') ||
		contentType?.startsWith('text/plain') ||
		contentType?.startsWith('application/x-www-form-urlencoded') ||
		contentType?.endsWith('/xml') ||
		contentType?.endsWith('+xml');
	if (nodeVersion > 1 && !parsable) return;
	await req.readRawBody();
	const { rawBody, encoding } = req;
	if (rawBody?.length) {
		try {
			const text = () => rawBody.toString(encoding);
			if (contentType === 'application/json') req.body = jsonParse(text());
			else if (contentType?.endsWith('/xml') || contentType?.endsWith('+xml')) {
				// xml2js comes with n8n-core.
				// eslint-disable-next-line @typescript-eslint/no-require-imports
				const { Parser } = require('xml2js') as {
					Parser: new (options: object) => { parseStringPromise(xml: string): Promise<unknown> };
				};
				req.body = await new Parser({
					async: true,
					normalize: true,
					normalizeTags: true,
					explicitArray: false,
				}).parseStringPromise(text());
			} else if (contentType === 'application/x-www-form-urlencoded') {
				req.body = parseQueryString(text(), undefined, undefined, { maxKeys: 1000 });
			} else if (contentType === 'text/plain') req.body = text();
		} catch (error) {
			throw new BodyParseError((error as Error).message);
		}
	}
}

const MIME_SHORTHANDS: Record<string, string> = {
	json: 'application/json',
	html: 'text/html',
	text: 'text/plain',
	txt: 'text/plain',
	xml: 'application/xml',
	bin: 'application/octet-stream',
	csv: 'text/csv',
	pdf: 'application/pdf',
	zip: 'application/zip',
};

/**
 * An Express-like response that records what the node sends. It is a Writable, so streams can be
 * piped into it. Supports status/sendStatus/set/header/get/type/json/send/end/write/writeHead/
 * redirect/setHeader/getHeader/removeHeader.
 */
export class RecordingResponse extends Writable {
	statusCode = 200;

	statusMessage = '';

	locals: IDataObject = {};

	req?: IncomingMessage;

	private readonly headerMap = new Map<string, string | string[]>();

	private readonly chunks: Buffer[] = [];

	private started = false;

	constructor() {
		super();
	}

	get headersSent(): boolean {
		return this.started;
	}

	get body(): Buffer {
		return Buffer.concat(this.chunks);
	}

	get ended(): boolean {
		return this.writableFinished;
	}

	_write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void) {
		this.started = true;
		this.chunks.push(Buffer.from(chunk));
		callback();
	}

	_final(callback: (error?: Error | null) => void) {
		this.started = true;
		callback();
	}

	status(code: number): this {
		this.statusCode = code;
		return this;
	}

	sendStatus(code: number): this {
		this.status(code);
		return this.type('text').send(STATUS_CODES[code] ?? String(code));
	}

	setHeader(name: string, value: string | number | readonly string[]): this {
		this.headerMap.set(
			name.toLowerCase(),
			Array.isArray(value) ? value.map(String) : String(value as string | number),
		);
		return this;
	}

	getHeader(name: string): string | string[] | undefined {
		return this.headerMap.get(name.toLowerCase());
	}

	getHeaders(): Record<string, string | string[]> {
		return Object.fromEntries(this.headerMap);
	}

	getHeaderNames(): string[] {
		return [...this.headerMap.keys()];
	}

	hasHeader(name: string): boolean {
		return this.headerMap.has(name.toLowerCase());
	}

	removeHeader(name: string): void {
		this.headerMap.delete(name.toLowerCase());
	}

	set(field: string | Record<string, string | number | string[]>, value?: string | number | string[]): this {
		if (typeof field === 'object') {
			for (const [k, v] of Object.entries(field)) {
				if (v !== undefined) this.setHeader(k, v);
			}
		} else if (value !== undefined) this.setHeader(field, value);
		return this;
	}

	header(field: string | Record<string, string | number | string[]>, value?: string | number | string[]): this {
		return this.set(field, value);
	}

	get(field: string): string | string[] | undefined {
		return this.getHeader(field);
	}

	type(type: string): this {
		return this.setHeader('content-type', type.includes('/') ? type : (MIME_SHORTHANDS[type] ?? type));
	}

	contentType(type: string): this {
		return this.type(type);
	}

	writeHead(
		statusCode: number,
		reasonOrHeaders?: string | Record<string, string | number | string[]>,
		headers?: Record<string, string | number | string[]>,
	): this {
		this.statusCode = statusCode;
		if (typeof reasonOrHeaders === 'string') this.statusMessage = reasonOrHeaders;
		else if (reasonOrHeaders) this.set(reasonOrHeaders);
		if (headers) this.set(headers);
		this.started = true;
		return this;
	}

	flushHeaders(): void {
		this.started = true;
	}

	json(body: unknown): this {
		if (!this.hasHeader('content-type')) this.setHeader('content-type', 'application/json; charset=utf-8');
		const text = JSON.stringify(body);
		this.end(text === undefined ? '' : text);
		return this;
	}

	send(body?: unknown): this {
		if (body === undefined || body === null) {
			this.end();
		} else if (Buffer.isBuffer(body)) {
			if (!this.hasHeader('content-type')) this.setHeader('content-type', 'application/octet-stream');
			this.end(body);
		} else if (typeof body === 'string') {
			if (!this.hasHeader('content-type')) this.setHeader('content-type', 'text/html; charset=utf-8');
			this.end(body);
		} else {
			return this.json(body);
		}
		return this;
	}

	redirect(statusOrUrl: number | string, maybeUrl?: string): this {
		const [status, url] =
			typeof statusOrUrl === 'number' ? [statusOrUrl, maybeUrl ?? ''] : [302, statusOrUrl];
		this.status(status).setHeader('location', url);
		this.end();
		return this;
	}

	render(): never {
		throw new ApplicationError('res.render() (n8n views) is not supported by the engine test harness');
	}

	/** Resolves when the response has ended, or after `timeoutMs`. */
	async waitForEnd(timeoutMs: number): Promise<boolean> {
		if (this.writableFinished) return true;
		return await new Promise<boolean>((resolve) => {
			const timer = setTimeout(() => resolve(false), timeoutMs);
			this.once('finish', () => {
				clearTimeout(timer);
				resolve(true);
			});
		});
	}

	/** The recorded body: parsed JSON for JSON content types, text for textual ones, else the Buffer. */
	parsedBody(): unknown {
		const body = this.body;
		const type = String(this.getHeader('content-type') ?? '');
		if (body.length === 0) return undefined;
		if (type.includes('json')) {
			try {
				return JSON.parse(body.toString('utf8'));
			} catch {
				return body.toString('utf8');
			}
		}
		if (/^text\/|xml|html|javascript|x-www-form-urlencoded/.test(type) || type === '') {
			return body.toString('utf8');
		}
		return body;
	}
}

/** n8n's ResponseHelper.sendSuccessResponse(res, data, raw = true, code, headers). */
function sendSuccessResponse(
	res: RecordingResponse,
	data: unknown,
	responseCode?: number,
	headers?: IDataObject,
) {
	if (responseCode !== undefined) res.status(responseCode);
	if (headers) res.header(headers as Record<string, string>);
	if (data instanceof Readable) {
		data.pipe(res);
		return;
	}
	if (typeof data === 'string') res.send(data);
	else res.json(data);
}

/** n8n's ResponseHelper.sendErrorResponse for errors that are not ResponseErrors (500, code 0). */
function sendErrorResponse(res: RecordingResponse, message: string, httpStatusCode = 500, code = 0, hint?: string) {
	res.status(httpStatusCode).json({ code, message, ...(hint ? { hint } : {}) });
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

/** n8n's WebhookService.getNodeWebhooks. */
function getNodeWebhooks(
	workflow: Workflow,
	node: INode,
	additionalData: IWorkflowExecuteAdditionalData,
): IWebhookData[] {
	if (node.disabled === true) return [];
	const nodeType = workflow.nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
	if (nodeType.description.webhooks === undefined) return [];
	const workflowId = workflow.id || '__UNSAVED__';
	const mode = 'internal';
	const result: IWebhookData[] = [];
	for (const webhookDescription of nodeType.description.webhooks) {
		let nodeWebhookPath = workflow.expression.getSimpleParameterValue(
			node,
			webhookDescription.path,
			mode,
			{},
		);
		if (nodeWebhookPath === undefined) continue;
		nodeWebhookPath = nodeWebhookPath.toString();
		if (nodeWebhookPath.startsWith('/')) nodeWebhookPath = nodeWebhookPath.slice(1);
		if (nodeWebhookPath.endsWith('/')) nodeWebhookPath = nodeWebhookPath.slice(0, -1);
		const isFullPath = workflow.expression.getSimpleParameterValue(
			node,
			webhookDescription.isFullPath,
			mode,
			{},
			undefined,
			false,
		) as boolean;
		const restartWebhook = workflow.expression.getSimpleParameterValue(
			node,
			webhookDescription.restartWebhook,
			mode,
			{},
			undefined,
			false,
		) as boolean;
		const webhookPath = NodeHelpers.getNodeWebhookPath(
			workflowId,
			node,
			nodeWebhookPath,
			isFullPath,
			restartWebhook,
		);
		const httpMethods = workflow.expression.getSimpleParameterValue(
			node,
			webhookDescription.httpMethod,
			mode,
			{},
			undefined,
			'GET',
		);
		if (httpMethods === undefined) continue;
		let webhookId: string | undefined;
		if ((webhookPath.startsWith(':') || webhookPath.includes('/:')) && node.webhookId) {
			webhookId = node.webhookId;
		}
		for (const httpMethod of String(httpMethods).split(',')) {
			if (!httpMethod) continue;
			result.push({
				httpMethod: httpMethod.trim() as IHttpRequestMethods,
				node: node.name,
				path: webhookPath,
				webhookDescription,
				workflowId,
				workflowExecuteAdditionalData: additionalData,
				webhookId,
			});
		}
	}
	return result;
}

export interface WebhookCallResult {
	statusCode: number;
	headers: Record<string, string | string[]>;
	/** Raw bytes of the response. */
	body: Buffer;
	/** The response body, parsed (JSON for JSON content types, text for textual ones). */
	responseBody: unknown;
	/** Whether the response was ended (by the node or by n8n's default response). */
	responseEnded: boolean;
	/** What the node's webhook() returned as workflow data (what the trigger emits). */
	workflowData?: INodeExecutionData[][];
	webhookResponse?: unknown;
	/** True when the node answered the request itself. */
	noWebhookResponse: boolean;
	/** The error webhook() threw (n8n then answers 500 "Workflow Webhook Error..."). */
	error?: Error;
	responseMode: string;
	request: HarnessRequest;
	node: INode;
	/** Log lines written during the call. */
	logLines: LogLine[];
}

interface InvokeParams {
	workflow: Workflow;
	node: INode;
	webhookData: IWebhookData;
	additionalData: IWorkflowExecuteAdditionalData;
	mode: WorkflowExecuteMode;
	runExecutionData: IRunExecutionData | null;
	executionId?: string;
	req: HarnessRequest;
	res: RecordingResponse;
	uploadDir: string;
}

/**
 * The part of n8n 1.x `WebhookHelpers.executeWebhook` that runs the node's webhook() and decides
 * the HTTP response (before the workflow itself runs).
 */
async function invokeWebhook(p: InvokeParams): Promise<WebhookCallResult> {
	const { workflow, node, webhookData, additionalData, mode, req, res } = p;
	const firstLine = logLines.length;
	const nodeType = workflow.nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
	const description = webhookData.webhookDescription;
	const additionalKeys: IWorkflowDataProxyAdditionalKeys = { $executionId: p.executionId };

	const responseMode = workflow.expression.getSimpleParameterValue(
		node,
		description.responseMode,
		mode,
		additionalKeys,
		undefined,
		'onReceived',
	) as string;
	const responseCode = workflow.expression.getSimpleParameterValue(
		node,
		description.responseCode as string,
		mode,
		additionalKeys,
		undefined,
		200,
	) as number;
	const responseData = workflow.expression.getComplexParameterValue(
		node,
		description.responseData,
		mode,
		additionalKeys,
		undefined,
		'firstEntryJson',
	);

	let webhookResultData: IWebhookResponseData | undefined;
	let error: Error | undefined;
	let didSendResponse = false;
	const finish = async (): Promise<WebhookCallResult> => {
		if (!res.ended && didSendResponse) await res.waitForEnd(2000);
		return {
			statusCode: res.statusCode,
			headers: res.getHeaders(),
			body: res.body,
			responseBody: res.parsedBody(),
			responseEnded: res.ended,
			workflowData: error ? undefined : webhookResultData?.workflowData,
			webhookResponse: webhookResultData?.webhookResponse,
			noWebhookResponse: webhookResultData?.noWebhookResponse === true,
			error,
			responseMode,
			request: req,
			node,
			logLines: logLines.slice(firstLine),
		};
	};

	if (!['onReceived', 'lastNode', 'responseNode', 'formPage'].includes(responseMode)) {
		sendErrorResponse(res, `The response mode '${responseMode}' is not valid!`);
		didSendResponse = true;
		error = new ApplicationError(`The response mode '${responseMode}' is not valid!`);
		return await finish();
	}

	additionalData.httpRequest = req as never;
	additionalData.httpResponse = res as never;

	let binaryData: unknown = false;
	if (node.typeVersion === 1) {
		// n8n 1.x evaluates this for every typeVersion 1 webhook node (the Webhook node's option).
		try {
			binaryData = workflow.expression.getSimpleParameterValue(
				node,
				'={{$parameter["options"]["binaryData"]}}',
				mode,
				additionalKeys,
				undefined,
				false,
			);
		} catch {
			binaryData = false;
		}
	}

	try {
		if (!binaryData) await parseBodyLikeN8n(req, node.typeVersion, p.uploadDir);
		const override = (req as { _bodyOverride?: { value: unknown } })._bodyOverride;
		if (override) req.body = override.value;
	} catch (e) {
		if (!(e instanceof BodyParseError)) throw e;
		sendErrorResponse(res, 'Failed to parse request body', 422, 422, e.message);
		didSendResponse = true;
		error = e;
		return await finish();
	}

	try {
		if (nodeType.webhook === undefined) {
			throw new ApplicationError('Node does not have any webhooks defined', {
				extra: { nodeName: node.name },
			});
		}
		const context = new WebhookContext(
			workflow,
			node,
			additionalData,
			mode,
			webhookData,
			[],
			p.runExecutionData,
		);
		webhookResultData =
			nodeType instanceof Node
				? await nodeType.webhook(context)
				: ((await nodeType.webhook.call(context)) as IWebhookResponseData);
	} catch (e) {
		error = e as Error;
		Container.get(ErrorReporter).error(e, {
			extra: {
				nodeName: node.name,
				nodeType: node.type,
				nodeVersion: node.typeVersion,
				workflowId: workflow.id,
			},
		});
		if (!res.headersSent) {
			sendErrorResponse(res, 'Workflow Webhook Error: Workflow could not be started!');
		}
		didSendResponse = true;
		return await finish();
	}

	if (description.responseHeaders !== undefined) {
		const responseHeaders = workflow.expression.getComplexParameterValue(
			node,
			description.responseHeaders,
			mode,
			additionalKeys,
			undefined,
			undefined,
		) as { entries?: Array<{ name: string; value: string }> } | undefined;
		for (const item of responseHeaders?.entries ?? []) res.setHeader(item.name, item.value);
	}

	if (webhookResultData.noWebhookResponse === true && !didSendResponse) {
		// The node answered the request itself.
		didSendResponse = true;
	}

	if (webhookResultData.workflowData === undefined) {
		if (!didSendResponse) {
			sendSuccessResponse(
				res,
				webhookResultData.webhookResponse !== undefined
					? webhookResultData.webhookResponse
					: { message: 'Webhook call received' },
				responseCode,
			);
			didSendResponse = true;
		}
		return await finish();
	}

	if (responseMode === 'onReceived' && !didSendResponse) {
		if (responseData === 'noData') {
			sendSuccessResponse(res, undefined, responseCode);
		} else if (responseData) {
			// Note: with no `responseData` in the webhook description this is the literal
			// string 'firstEntryJson' — n8n 1.x really answers that.
			sendSuccessResponse(res, responseData, responseCode);
		} else if (webhookResultData.webhookResponse !== undefined) {
			sendSuccessResponse(res, webhookResultData.webhookResponse, responseCode);
		} else {
			sendSuccessResponse(res, { message: 'Workflow was started' }, responseCode);
		}
		didSendResponse = true;
	}
	// 'lastNode' / 'responseNode' / 'formPage': n8n answers after the workflow ran; the harness
	// leaves the response open (see the server functions for what they do then).
	return await finish();
}

export interface CallWebhookOptions extends EngineOptions {
	/** The node's parameters (defaults are filled in as n8n does). */
	parameters?: INodeParameters;
	request: WebhookRequestInput;
	/** Which of the node's webhooks, default 'default'. */
	webhookName?: string;
	/** Node name in the one-node workflow, default the type's `defaults.name` or displayName. */
	nodeName?: string;
	typeVersion?: number;
	/** The node's webhookId (n8n's editor gives every webhook node one). Default: a random UUID. */
	webhookId?: string;
	/** Type string the node is registered under, default `test.<description.name>`. */
	nodeTypeName?: string;
	/** Workflow static data (`getWorkflowStaticData`), kept between calls if you pass the same object. */
	staticData?: IDataObject;
	/** Default 'webhook' (a production webhook call). */
	mode?: WorkflowExecuteMode;
	/** Undefined in n8n while a new execution's webhook runs (binary files go to .../executions/temp). */
	executionId?: string;
	workflowId?: string;
}

interface TriggerSetup {
	ctx: EngineContext;
	nodeName: string;
	webhookName: string;
}

function setupTrigger(
	nodeType: INodeType | IVersionedNodeType,
	opts: Omit<CallWebhookOptions, 'request'> & { workflow?: WorkflowInput },
): TriggerSetup {
	const typeName = opts.nodeTypeName ?? `test.${nodeType.description.name}`;
	const nodeTypesWith = { ...opts.nodeTypes, [typeName]: nodeType };
	let workflow: WorkflowInput;
	let nodeName: string;
	if (opts.workflow) {
		workflow = opts.workflow;
		const registry = { ...builtinNodeTypes, ...opts.nodeTypes };
		const found = opts.nodeName
			? workflow.nodes.find((n) => n.name === opts.nodeName)
			: (workflow.nodes.find((n) => registry[n.type] === nodeType || n.type === typeName) ??
				workflow.nodes.find(
					(n) => !registry[n.type] && n.type.endsWith(`.${nodeType.description.name}`),
				));
		if (!found) throw new Error('The trigger node was not found in opts.workflow (give opts.nodeName)');
		nodeName = found.name;
		Object.assign(nodeTypesWith, { [found.type]: nodeType });
	} else {
		const description = nodeType.description as INodeTypeDescription;
		nodeName = opts.nodeName ?? description.defaults?.name ?? description.displayName;
		workflow = {
			id: opts.workflowId,
			nodes: [
				{
					name: nodeName,
					type: typeName,
					typeVersion: opts.typeVersion,
					parameters: opts.parameters ?? {},
					webhookId: opts.webhookId ?? randomUUID(),
				},
			],
			connections: {},
		};
	}
	const ctx = makeContext(
		workflow,
		{
			...opts,
			nodeTypes: nodeTypesWith,
			staticData: opts.staticData,
			executionId: opts.executionId ?? '',
			// The trigger's own URLs are those of opts.baseUrl, never of a waiting server.
			waitingServer: undefined,
		},
		opts.mode ?? 'webhook',
	);
	return { ctx, nodeName, webhookName: opts.webhookName ?? 'default' };
}

function webhookAdditionalData(ctx: EngineContext, executionId?: string) {
	return createAdditionalData({
		credentialsHelper: ctx.credentialsHelper,
		urls: ctx.urls,
		executionId: executionId || undefined,
	});
}

function pickWebhook(webhooks: IWebhookData[], name: string, method: string): IWebhookData | undefined {
	const named = webhooks.filter((w) => w.webhookDescription.name === name && !w.webhookDescription.restartWebhook);
	return named.find((w) => w.httpMethod === method) ?? named[0];
}

async function callTrigger(setup: TriggerSetup, req: HarnessRequest, res: RecordingResponse) {
	const { ctx } = setup;
	const { binaryDataService, dir } = await initEngine();
	setBinaryDataMode(binaryDataService, ctx.opts.binaryDataMode);
	const workflow = buildWorkflow(ctx);
	const node = workflow.getNode(setup.nodeName)!;
	const additionalData = webhookAdditionalData(ctx, ctx.executionId);
	const webhookData = pickWebhook(
		getNodeWebhooks(workflow, node, additionalData),
		setup.webhookName,
		req.method ?? 'POST',
	);
	if (!webhookData) {
		throw new Error(`Node "${node.name}" has no webhook named "${setup.webhookName}"`);
	}
	return await invokeWebhook({
		workflow,
		node,
		webhookData,
		additionalData,
		mode: ctx.mode,
		runExecutionData: null,
		executionId: ctx.executionId || undefined,
		req,
		res,
		uploadDir: path.join(dir, 'uploads'),
	});
}

/** The URL n8n-core's `getNodeWebhookUrl(name)` gives for a trigger's (production) webhook. */
export async function getWebhookUrl(
	nodeType: INodeType | IVersionedNodeType,
	opts: Omit<CallWebhookOptions, 'request'> & { workflow?: WorkflowInput } = {},
): Promise<string> {
	await initEngine();
	return webhookUrlOf(setupTrigger(nodeType, opts));
}

function webhookUrlOf(setup: TriggerSetup): string {
	const workflow = buildWorkflow(setup.ctx);
	const node = workflow.getNode(setup.nodeName)!;
	const context = new HookContext(
		workflow,
		node,
		webhookAdditionalData(setup.ctx),
		setup.ctx.mode,
		'activate',
	);
	const url = context.getNodeWebhookUrl(setup.webhookName as WebhookType);
	if (!url) throw new Error(`Node "${node.name}" has no webhook named "${setup.webhookName}"`);
	return url;
}

/**
 * Runs a trigger node's webhook() with n8n-core's WebhookContext and an Express-like request and
 * response, then answers the request the way n8n 1.x does. No socket involved.
 */
export async function callWebhook(
	nodeType: INodeType | IVersionedNodeType,
	opts: CallWebhookOptions,
): Promise<WebhookCallResult> {
	await initEngine();
	const setup = setupTrigger(nodeType, opts);
	const res = new RecordingResponse();
	const req = buildRequest(opts.request, new URL(webhookUrlOf(setup)).pathname);
	res.req = req;
	return await callTrigger(setup, req, res);
}

/** Runs one of the node's webhookMethods (checkExists/create/delete) with n8n-core's HookContext. */
async function runWebhookMethod(
	setup: TriggerSetup,
	method: WebhookSetupMethodNames,
	activation: WorkflowActivateMode = 'activate',
): Promise<boolean | undefined> {
	await initEngine();
	const { ctx } = setup;
	const workflow = buildWorkflow(ctx);
	const node = workflow.getNode(setup.nodeName)!;
	const additionalData = webhookAdditionalData(ctx);
	const webhookData = getNodeWebhooks(workflow, node, additionalData).find(
		(w) => w.webhookDescription.name === setup.webhookName,
	);
	if (!webhookData) throw new Error(`Node "${node.name}" has no webhook named "${setup.webhookName}"`);
	const nodeType = workflow.nodeTypes.getByNameAndVersion(node.type, node.typeVersion);
	const methods = nodeType.webhookMethods as
		| Record<string, Partial<Record<WebhookSetupMethodNames, (this: unknown) => Promise<boolean>>>>
		| undefined;
	const fn = methods?.[setup.webhookName]?.[method];
	if (fn === undefined) return undefined;
	const context = new HookContext(workflow, node, additionalData, ctx.mode, activation, webhookData);
	return (await fn.call(context)) as boolean;
}

// ---------------------------------------------------------------------------------------------
// HTTP servers
// ---------------------------------------------------------------------------------------------

async function listen(server: Server, port = 0): Promise<string> {
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, '127.0.0.1', () => resolve());
	});
	const { port: actual } = server.address() as AddressInfo;
	return `http://127.0.0.1:${actual}`;
}

async function closeServer(server: Server): Promise<void> {
	server.closeAllConnections?.();
	await new Promise<void>((resolve) => server.close(() => resolve()));
}

function writeRecorded(res: ServerResponse, recorded: RecordingResponse) {
	if (res.headersSent) return;
	res.writeHead(recorded.statusCode, recorded.getHeaders());
	res.end(recorded.body);
}

function writeJson(res: ServerResponse, statusCode: number, body: unknown) {
	if (res.headersSent) return;
	res.writeHead(statusCode, { 'content-type': 'application/json; charset=utf-8' });
	res.end(JSON.stringify(body));
}

/** Queue of results with waiters, for "wait for the next call" APIs. */
class ResultQueue<T> {
	private readonly items: T[] = [];

	private readonly waiters: Array<(item: T) => void> = [];

	push(item: T) {
		const waiter = this.waiters.shift();
		if (waiter) waiter(item);
		else this.items.push(item);
	}

	async next(timeoutMs: number, what: string): Promise<T> {
		const item = this.items.shift();
		if (item !== undefined) return item;
		return await new Promise<T>((resolve, reject) => {
			const timer = setTimeout(() => {
				const index = this.waiters.indexOf(waiter);
				if (index >= 0) this.waiters.splice(index, 1);
				reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`));
			}, timeoutMs);
			const waiter = (value: T) => {
				clearTimeout(timer);
				resolve(value);
			};
			this.waiters.push(waiter);
		});
	}
}

export interface WebhookServerCall extends WebhookCallResult {
	/** With `opts.workflow`: the execution n8n would start with the trigger's output. */
	run?: RunResult;
	runError?: Error;
}

export interface WebhookServerOptions extends Omit<CallWebhookOptions, 'request'> {
	/**
	 * A workflow containing the trigger node: each call that yields workflow data then runs it from
	 * the trigger (mode 'webhook'), as n8n does in production. Otherwise only webhook() runs.
	 */
	workflow?: WorkflowInput;
	/** For workflows run behind the trigger that wait: their resume URLs point at this server. */
	waitingServer?: WaitingWebhookServer;
	/** Run the node's webhookMethods checkExists/create on start and delete on close. Default false. */
	activate?: boolean;
	port?: number;
}

export interface WebhookServer {
	/** The production webhook URL to give the remote system. */
	url: string;
	/** http://127.0.0.1:PORT */
	baseUrl: string;
	/** Completed calls, in order. */
	calls: WebhookServerCall[];
	/** Resolves with the next completed call (after its workflow run, if any). */
	nextCall(timeoutMs?: number): Promise<WebhookServerCall>;
	/** Runs a webhookMethods function of the node (HookContext), e.g. 'checkExists'. */
	runWebhookMethod(method: WebhookSetupMethodNames): Promise<boolean | undefined>;
	staticData: IDataObject;
	close(): Promise<void>;
}

/**
 * A plain HTTP server on 127.0.0.1 that serves a trigger's production webhook URL: each request is
 * turned into an Express-like request (raw body collected, parsed as n8n's body parsers do),
 * handed to the node's webhook() (callWebhook), and the node's (or n8n's default) answer is sent
 * back. Other paths/methods get n8n's 404.
 */
export async function startWebhookServer(
	nodeType: INodeType | IVersionedNodeType,
	opts: WebhookServerOptions = {},
): Promise<WebhookServer> {
	await initEngine();
	const staticData = opts.staticData ?? {};
	const server = createServer();
	const baseUrl = await listen(server, opts.port);
	const setup = setupTrigger(nodeType, { ...opts, staticData, baseUrl });
	const calls: WebhookServerCall[] = [];
	const queue = new ResultQueue<WebhookServerCall>();

	const probe = buildWorkflow(setup.ctx);
	const probeNode = probe.getNode(setup.nodeName)!;
	const webhooks = getNodeWebhooks(probe, probeNode, webhookAdditionalData(setup.ctx)).filter(
		(w) => !w.webhookDescription.restartWebhook,
	);
	const url = webhookUrlOf(setup);

	server.on('request', (incoming: IncomingMessage, serverRes: ServerResponse) => {
		void (async () => {
			const requestPath = new URL(incoming.url ?? '/', 'http://127.0.0.1').pathname.replace(/\/$/, '');
			const method = incoming.method ?? 'GET';
			const matches = webhooks.filter((w) => `/webhook/${w.path}` === requestPath);
			const match = matches.find((w) => w.httpMethod === method);
			if (!match) {
				const registered = matches.length > 0;
				writeJson(serverRes, 404, {
					code: 404,
					message: registered
						? `This webhook is not registered for ${method} requests. Did you mean to make a ${matches[0].httpMethod} request?`
						: `The requested webhook "${method} ${requestPath.replace(/^\/webhook\//, '')}" is not registered.`,
				});
				return;
			}
			const req = augmentRequest(incoming);
			const res = new RecordingResponse();
			res.req = req;
			let call: WebhookServerCall;
			try {
				call = await callTrigger({ ...setup, webhookName: match.webhookDescription.name }, req, res);
			} catch (error) {
				writeJson(serverRes, 500, { code: 0, message: (error as Error).message });
				const failed = { error: error as Error } as WebhookServerCall;
				calls.push(failed);
				queue.push(failed);
				return;
			}
			// onReceived: n8n answers before the workflow runs.
			if (res.ended) writeRecorded(serverRes, res);
			if (opts.workflow && call.workflowData && !call.error) {
				try {
					call.run = await runWorkflow(setup.ctx.workflow, {
						...opts,
						nodeTypes: setup.ctx.nodeTypes.types,
						staticData,
						startFrom: { nodeName: setup.nodeName, data: call.workflowData },
						mode: opts.mode ?? 'webhook',
					});
				} catch (error) {
					call.runError = error as Error;
				}
			}
			if (!res.ended) {
				if (opts.workflow === undefined) {
					sendErrorResponse(
						res,
						`engine harness: response mode "${call.responseMode}" needs the workflow run; pass opts.workflow`,
					);
				} else {
					respondAfterRun(res, call.run, call.runError);
				}
			}
			await res.waitForEnd(5000);
			refreshResponse(call, res);
			writeRecorded(serverRes, res);
			calls.push(call);
			queue.push(call);
		})();
	});

	if (opts.activate) {
		const exists = await runWebhookMethod(setup, 'checkExists');
		if (!exists) await runWebhookMethod(setup, 'create');
	}

	return {
		url,
		baseUrl,
		calls,
		staticData,
		nextCall: async (timeoutMs = 10000) => await queue.next(timeoutMs, 'a webhook call'),
		runWebhookMethod: async (method) => await runWebhookMethod(setup, method),
		close: async () => {
			if (opts.activate) await runWebhookMethod(setup, 'delete');
			await closeServer(server);
		},
	};
}

function refreshResponse(call: WebhookCallResult, res: RecordingResponse) {
	call.statusCode = res.statusCode;
	call.headers = res.getHeaders();
	call.body = res.body;
	call.responseBody = res.parsedBody();
	call.responseEnded = res.ended;
}

/** Simplified 'lastNode' answer: the first item's JSON of the last node that ran. */
function respondAfterRun(res: RecordingResponse, run?: RunResult, runError?: Error) {
	if (res.ended) return;
	if (runError || run?.error) {
		sendErrorResponse(res, 'Error in workflow');
		return;
	}
	const last = run?.lastNodeExecuted;
	const json = last ? run?.runData[last]?.[0]?.data?.main?.[0]?.[0]?.json : undefined;
	sendSuccessResponse(
		res,
		json ?? { message: 'Workflow executed successfully but the last node did not return any data' },
	);
}

// ---------------------------------------------------------------------------------------------
// Waiting executions
// ---------------------------------------------------------------------------------------------

export interface ResumeResult {
	/** The waiting node's webhook() call and the answer the caller got. */
	webhook: WebhookCallResult;
	/** The continued execution (undefined when webhook() gave no workflow data or failed). */
	run?: RunResult;
	runError?: Error;
}

interface ResumePhase {
	webhook: WebhookCallResult;
	continueRun: () => Promise<RunResult | undefined>;
}

class NotFoundError extends Error {}

/** n8n 1.x WaitingWebhooks.executeWebhook + the resume part of WebhookHelpers.executeWebhook. */
async function startResume(
	previous: RunResult,
	req: HarnessRequest,
	res: RecordingResponse,
	suffix: string,
	overrides: { binaryDataMode?: BinaryDataMode } = {},
): Promise<ResumePhase> {
	const { binaryDataService, dir } = await initEngine();
	const ctx: EngineContext = {
		...previous.engineContext,
		opts: { ...previous.engineContext.opts, ...overrides },
	};
	if (!previous.waitTill) {
		throw new ApplicationError(`Execution "${previous.executionId}" is not waiting (status ${previous.status})`);
	}
	setBinaryDataMode(binaryDataService, ctx.opts.binaryDataMode);
	// What the database would give back: a JSON copy of the stored execution data.
	const runExecutionData = JSON.parse(JSON.stringify(previous.run.data)) as IRunExecutionData;
	const lastNodeExecuted = runExecutionData.resultData.lastNodeExecuted as string;
	// Disable the node so it does not start the wait again, clear waitTill, and remove the waiting
	// run so the node is not shown as executed twice.
	runExecutionData.executionData!.nodeExecutionStack[0].node.disabled = true;
	runExecutionData.waitTill = undefined;
	runExecutionData.resultData.runData[lastNodeExecuted].pop();

	const workflow = buildWorkflow(ctx);
	const node = workflow.getNode(lastNodeExecuted);
	if (!node) throw new NotFoundError('Could not find node to process webhook.');
	const additionalData = webhookAdditionalData(ctx, ctx.executionId);
	const webhookData = getNodeWebhooks(workflow, node, additionalData).find(
		(w) =>
			w.httpMethod === req.method &&
			w.path === suffix &&
			w.webhookDescription.restartWebhook === true &&
			(w.webhookDescription as IWebhookDescription & { nodeType?: string }).nodeType !== 'form',
	);
	if (!webhookData) {
		throw new NotFoundError(
			`The workflow for execution "${ctx.executionId}" does not contain a waiting webhook with a matching path/method.`,
		);
	}
	const webhook = await invokeWebhook({
		workflow,
		node,
		webhookData,
		additionalData,
		mode: ctx.mode,
		runExecutionData,
		executionId: ctx.executionId,
		req,
		res,
		uploadDir: path.join(dir, 'uploads'),
	});
	const continueRun = async () => {
		if (webhook.error || webhook.workflowData === undefined) return undefined;
		runExecutionData.executionData!.nodeExecutionStack[0].data.main = webhook.workflowData;
		return await executeEngine(ctx, { kind: 'continue', runExecutionData });
	};
	return { webhook, continueRun };
}

/**
 * Resumes a waiting execution as n8n's WaitingWebhooks does when its resume URL is called: runs
 * the waiting node's webhook() (a `restartWebhook: true` webhook whose path is `suffix`, default
 * ''), puts the returned workflow data as the node's output and continues the execution.
 */
export async function resumeWorkflow(
	previous: RunResult,
	opts: { request?: WebhookRequestInput; suffix?: string; binaryDataMode?: BinaryDataMode } = {},
): Promise<ResumeResult> {
	const suffix = opts.suffix ?? '';
	const req = buildRequest(
		opts.request ?? {},
		`/webhook-waiting/${previous.executionId}${suffix ? `/${suffix}` : ''}`,
	);
	const res = new RecordingResponse();
	res.req = req;
	const phase = await startResume(previous, req, res, suffix, { binaryDataMode: opts.binaryDataMode });
	const run = await phase.continueRun();
	return { webhook: phase.webhook, run };
}

/**
 * Continues a waiting execution the way n8n's WaitTracker does once `waitTill` has passed (no
 * webhook call): the waiting node is disabled, so it passes its input items through unchanged,
 * and the execution goes on from there.
 */
export async function resumeAfterWaitTill(
	previous: RunResult,
	opts: { binaryDataMode?: BinaryDataMode } = {},
): Promise<RunResult> {
	if (!previous.waitTill) {
		throw new ApplicationError(`Execution "${previous.executionId}" is not waiting (status ${previous.status})`);
	}
	const ctx: EngineContext = {
		...previous.engineContext,
		opts: { ...previous.engineContext.opts, ...opts },
	};
	const runExecutionData = JSON.parse(JSON.stringify(previous.run.data)) as IRunExecutionData;
	// WorkflowExecute.processRunExecutionData sees waitTill, disables the waiting node and drops
	// its waiting run (handleWaitingState).
	runExecutionData.waitTill = new Date(previous.waitTill);
	return await executeEngine(ctx, { kind: 'continue', runExecutionData });
}

export interface WaitingWebhookServer {
	/** http://127.0.0.1:PORT — give it to runWorkflow as `waitingServer`. */
	baseUrl: string;
	webhookWaitingBaseUrl: string;
	formWaitingBaseUrl: string;
	/** Called by runWorkflow for executions that end waiting. */
	register(result: RunResult): void;
	/** Completed resumes, in order. */
	resumes: ResumeResult[];
	/** Resolves when the execution was resumed through the server and its continued run ended. */
	waitForResume(executionId: string, timeoutMs?: number): Promise<ResumeResult>;
	close(): Promise<void>;
}

/**
 * A plain HTTP server on 127.0.0.1 serving n8n's `/webhook-waiting/:executionId[/:suffix]` (and
 * `/form-waiting/...`) for executions run with `waitingServer` set: the remote system calls
 * `$execution.resumeUrl` and the execution continues.
 */
export async function startWaitingWebhookServer(opts: { port?: number } = {}): Promise<WaitingWebhookServer> {
	await initEngine();
	const server = createServer();
	const baseUrl = await listen(server, opts.port);
	const waiting = new Map<string, RunResult>();
	const running = new Set<string>();
	const finished = new Set<string>();
	const queues = new Map<string, ResultQueue<ResumeResult>>();
	const queueOf = (id: string) => {
		let queue = queues.get(id);
		if (!queue) {
			queue = new ResultQueue<ResumeResult>();
			queues.set(id, queue);
		}
		return queue;
	};
	const resumes: ResumeResult[] = [];

	server.on('request', (incoming: IncomingMessage, serverRes: ServerResponse) => {
		void (async () => {
			const { pathname } = new URL(incoming.url ?? '/', 'http://127.0.0.1');
			const m = /^\/(webhook-waiting|form-waiting)\/([^/]+)(?:\/(.*))?$/.exec(pathname);
			if (!m) {
				writeJson(serverRes, 404, { code: 404, message: 'Not found' });
				return;
			}
			const [, , executionId, rawSuffix] = m;
			const suffix = (rawSuffix ?? '').replace(/\/$/, '');
			const previous = waiting.get(executionId);
			if (running.has(executionId)) {
				writeJson(serverRes, 409, {
					code: 409,
					message: `The execution "${executionId}" is running already.`,
				});
				return;
			}
			if (!previous) {
				writeJson(
					serverRes,
					finished.has(executionId) ? 409 : 404,
					finished.has(executionId)
						? { code: 409, message: `The execution "${executionId} has finished already.` }
						: { code: 404, message: `The execution "${executionId}" does not exist.` },
				);
				return;
			}
			running.add(executionId);
			const req = augmentRequest(incoming);
			req.params = { path: executionId, ...(suffix ? { suffix } : {}) };
			const res = new RecordingResponse();
			res.req = req;
			let phase: ResumePhase;
			try {
				phase = await startResume(previous, req, res, suffix);
			} catch (error) {
				running.delete(executionId);
				const status = error instanceof NotFoundError ? 404 : 500;
				writeJson(serverRes, status, { code: status === 404 ? 404 : 0, message: (error as Error).message });
				return;
			}
			if (res.ended) writeRecorded(serverRes, res);
			const result: ResumeResult = { webhook: phase.webhook };
			try {
				result.run = await phase.continueRun();
			} catch (error) {
				result.runError = error as Error;
			}
			if (!res.ended) respondAfterRun(res, result.run, result.runError);
			await res.waitForEnd(5000);
			refreshResponse(result.webhook, res);
			writeRecorded(serverRes, res);
			running.delete(executionId);
			if (result.run || result.webhook.workflowData !== undefined) {
				// The continued run registers itself again if it waits again.
				if (waiting.get(executionId) === previous) waiting.delete(executionId);
				if (!result.run?.waitTill) finished.add(executionId);
			}
			resumes.push(result);
			queueOf(executionId).push(result);
		})();
	});

	return {
		baseUrl,
		webhookWaitingBaseUrl: `${baseUrl}/webhook-waiting`,
		formWaitingBaseUrl: `${baseUrl}/form-waiting`,
		resumes,
		register(result: RunResult) {
			waiting.set(result.executionId, result);
			finished.delete(result.executionId);
		},
		waitForResume: async (executionId, timeoutMs = 10000) =>
			await queueOf(executionId).next(timeoutMs, `execution ${executionId} to be resumed`),
		close: async () => await closeServer(server),
	};
}
