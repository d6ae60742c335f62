import type {
	IDataObject,
	IExecuteFunctions,
	ILoadOptionsFunctions,
	INodeExecutionData,
	INodeProperties,
	INodePropertyOptions,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { runLimitOf } from '../helpers/concurrency';
import {
	collectionScanPays,
	compareMatches,
	emailFieldNames,
	equalsCondition,
	fieldsOf,
	flagOf,
	idOf,
	Limiter,
	matchedFieldOf,
	matchingRecords,
	MAX_PAGES,
	PAGE_LIMIT,
	pageQuery,
	type Page,
	PagingError,
	readPage,
	removedAtOf,
	SCAN_FROM_PROFILES,
	searchValues,
	type SortKey,
} from '../helpers/personSearch';
import { validateEmail, validateNumericId } from '../helpers/validation';
import { copernicaApiRequest, readErrorBody } from '../transport';

export const description: INodeProperties[] = [
	{
		displayName: 'Email',
		name: 'email',
		type: 'string',
		placeholder: 'name@email.com',
		default: '',
		required: true,
		displayOptions: { show: { operation: ['findPerson'] } },
		description:
			'The address the data subject gave. Every field of type Email in every database and collection is searched for it: exactly as typed before the "@", the domain in any case. One output item per profile and subprofile found (with every subprofile of a profile found); when nothing is found, one item with found "nothing".',
	},
];

/** What an item asks for, read from its parameters and checked before anything is sent. */
export interface PreparedFind {
	email: string;
	/** Empty: every database. */
	databaseIds: string[];
	includeFields: boolean;
}

/** The "Databases" option as a list of ids: the list the editor makes, or text such as "12, 14". */
function databaseIdsOf(value: unknown): string[] {
	if (value === undefined || value === null || value === '') return [];
	const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [value];
	const ids = list
		.filter((entry) => !(typeof entry === 'string' && entry.trim() === ''))
		.map((entry) => validateNumericId(entry, 'The database ID'));
	return [...new Set(ids)];
}

export function prepare(this: IExecuteFunctions, itemIndex: number): PreparedFind {
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	return {
		email: validateEmail(this.getNodeParameter('email', itemIndex)),
		databaseIds: databaseIdsOf(options.databaseIds),
		includeFields: options.includeFields !== false,
	};
}

// ------------------------------------------------------------------ the account's structure

interface Database {
	id: string;
	name: string;
	archived: boolean;
}

interface Collection {
	id: string;
	name: string;
	emailFields: string[];
}

interface Structure {
	database: Database;
	emailFields: string[];
	collections: Collection[];
}

/**
 * What all items of one node run share: the account's databases, fields and collections (read
 * once, whatever the number of items), and the limit on calls in flight.
 */
interface RunState {
	limiter: Limiter;
	databases?: Promise<Database[]>;
	structures: Map<string, Promise<Structure>>;
}

const runs = new WeakMap<object, RunState>();

function runStateOf(context: IExecuteFunctions): RunState {
	let state = runs.get(context);
	if (state === undefined) {
		// The run's adaptive limit (the router made it): it bounds the calls in flight, not the items.
		const limit = runLimitOf(context);
		state = { limiter: new Limiter(limit), structures: new Map() };
		runs.set(context, state);
	}
	return state;
}

function apiError(context: IExecuteFunctions, itemIndex: number, message: string, description: string): NodeApiError {
	return new NodeApiError(context.getNode(), { message, description } as JsonObject, { message, description, itemIndex });
}

async function getJson(this: IExecuteFunctions, state: RunState, path: string, what: string, itemIndex: number): Promise<unknown> {
	const response = await state.limiter.run(async () => await copernicaApiRequest.call(this, { method: 'GET', path }, itemIndex));
	const text = await readErrorBody(response.body);
	try {
		return JSON.parse(text) as unknown;
	} catch {
		throw apiError(
			this,
			itemIndex,
			`Copernica's answer with ${what} is not JSON`,
			`Copernica answered HTTP ${response.statusCode} with ${text.trim() === '' ? 'an empty body' : 'text that is not JSON'}. Check the Base URL in the Copernica API credential.`,
		);
	}
}

const recordId = (record: IDataObject) => idOf(record.ID ?? record.id);

/**
 * A list call page by page (`start`, `limit` 1000) to the end, each page handed to `onPage`
 * (which may stop the list by returning false). A page that brings only records of the page
 * before (a server that ignores `start`) stops with an error instead of looping or ending early.
 */
async function eachPage(
	this: IExecuteFunctions,
	state: RunState,
	request: { path: string; what: string; condition?: string },
	itemIndex: number,
	onPage: (records: IDataObject[], page: Page) => boolean,
): Promise<void> {
	const { path, what, condition } = request;
	let previous = new Set<string>();
	let start = 0;
	for (let pages = 1; ; pages++) {
		const body = await getJson.call(this, state, `${path}?${pageQuery(start, PAGE_LIMIT, condition)}`, what, itemIndex);
		let page: Page;
		try {
			page = readPage(body, start, PAGE_LIMIT);
		} catch (error) {
			throw apiError(this, itemIndex, `Copernica's answer with ${what} cannot be read`, `${(error as PagingError).message}.`);
		}
		const records = page.items.filter((item): item is IDataObject => !!item && typeof item === 'object' && !Array.isArray(item));
		const ids = new Set(records.flatMap((record) => recordId(record) ?? []));
		const repeated = records.length > 0 && ids.size === records.length && [...ids].every((id) => previous.has(id));
		if (page.next !== undefined && (repeated || pages >= MAX_PAGES)) {
			throw apiError(
				this,
				itemIndex,
				`Copernica's list of ${what} does not come to an end`,
				`Page ${pages} (from record ${start} on) brought the same records as the page before: the server does not page as Copernica documents. Nothing is output rather than an incomplete list.`,
			);
		}
		if (!onPage(records, page) || page.next === undefined) return;
		previous = ids;
		start = page.next;
	}
}

/** Every record of a list call (each once, should pages overlap). */
async function listAll(
	this: IExecuteFunctions,
	state: RunState,
	path: string,
	what: string,
	itemIndex: number,
	condition?: string,
): Promise<IDataObject[]> {
	const records: IDataObject[] = [];
	const seen = new Set<string>();
	await eachPage.call(this, state, { path, what, condition }, itemIndex, (page) => {
		for (const record of page) {
			const id = recordId(record);
			if (id !== undefined) {
				if (seen.has(id)) continue;
				seen.add(id);
			}
			records.push(record);
		}
		return true;
	});
	return records;
}

/**
 * The subprofiles in a collection of many profiles found: the collection read as a whole, when
 * that costs fewer calls than one per profile (helpers: collectionScanPays); undefined when not
 * (then only its first page was read). Only the profiles' subprofiles are kept, page by page.
 */
async function subprofilesByScan(
	this: IExecuteFunctions,
	state: RunState,
	collection: Collection,
	profileIds: Set<string>,
	itemIndex: number,
): Promise<IDataObject[] | undefined> {
	const kept: IDataObject[] = [];
	let pays: boolean | undefined;
	await eachPage.call(
		this,
		state,
		{ path: `/v3/collection/${segment(collection.id)}/subprofiles`, what: `the subprofiles of collection ${collection.id}` },
		itemIndex,
		(records, page) => {
			pays ??= page.next === undefined || collectionScanPays(page.total, profileIds.size);
			if (!pays) return false;
			for (const record of records) if (profileIds.has(idOf(record.profile) ?? '')) kept.push(record);
			return true;
		},
	);
	return pays ? kept : undefined;
}

const segment = (id: string) => encodeURIComponent(id);

async function databasesOf(this: IExecuteFunctions, state: RunState, itemIndex: number): Promise<Database[]> {
	state.databases ??= listAll.call(this, state, '/v3/databases', 'the databases', itemIndex).then((records) =>
		records.flatMap((record) => {
			const id = idOf(record.ID ?? record.id);
			if (id === undefined) return [];
			return [{ id, name: String(record.name ?? id), archived: flagOf(record.archived) }];
		}),
	);
	return await state.databases;
}

async function structureOf(this: IExecuteFunctions, state: RunState, database: Database, itemIndex: number): Promise<Structure> {
	let structure = state.structures.get(database.id);
	if (structure === undefined) {
		structure = (async () => {
			const where = `database ${database.id}`;
			const [fields, collections] = await Promise.all([
				listAll.call(this, state, `/v3/database/${segment(database.id)}/fields`, `the fields of ${where}`, itemIndex),
				listAll.call(this, state, `/v3/database/${segment(database.id)}/collections`, `the collections of ${where}`, itemIndex),
			]);
			const withFields = await Promise.all(
				collections.flatMap((record) => {
					const id = idOf(record.ID ?? record.id);
					if (id === undefined) return [];
					return [
						(async (): Promise<Collection> => {
							const collectionFields = await listAll.call(
								this,
								state,
								`/v3/collection/${segment(id)}/fields`,
								`the fields of collection ${id}`,
								itemIndex,
							);
							return { id, name: String(record.name ?? id), emailFields: emailFieldNames(collectionFields) };
						})(),
					];
				}),
			);
			return { database, emailFields: emailFieldNames(fields), collections: withFields };
		})();
		state.structures.set(database.id, structure);
	}
	return await structure;
}

// ------------------------------------------------------------------ the search

/** Waits for every task (none is left running), then fails with the first failure, if any. */
async function allOf(tasks: Array<Promise<unknown>>): Promise<void> {
	const results = await Promise.allSettled(tasks);
	const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
	if (failed !== undefined) throw failed.reason;
}

interface Found {
	key: SortKey;
	json: IDataObject;
}

function recordJson(
	record: IDataObject,
	base: IDataObject,
	matchedField: string | null,
	archived: boolean,
	prepared: PreparedFind,
): IDataObject {
	const removedAt = removedAtOf(record.removed);
	return {
		...base,
		matchedField,
		archived,
		removed: flagOf(record.removed),
		...(removedAt !== undefined ? { removedAt } : {}),
		...(prepared.includeFields ? { fields: fieldsOf(record.fields) } : {}),
		email: prepared.email,
	};
}

/**
 * Finds every profile and subprofile that holds the address in a field of type email, in the
 * chosen databases (all when none are chosen), and every subprofile of each profile found.
 */
async function search(this: IExecuteFunctions, itemIndex: number, prepared: PreparedFind): Promise<INodeExecutionData[]> {
	const state = runStateOf(this);
	const { email } = prepared;
	const databases = await databasesOf.call(this, state, itemIndex);
	let chosen = databases;
	if (prepared.databaseIds.length > 0) {
		const missing = prepared.databaseIds.filter((id) => !databases.some((database) => database.id === id));
		if (missing.length > 0) {
			throw new NodeOperationError(
				this.getNode(),
				`The Copernica account has no database ${missing.join(', ')} (chosen under Databases)`,
				{
					itemIndex,
					description:
						'The database may have been deleted, or the credential belongs to another account. Choose the databases again, or remove the option to search them all. Nothing was searched: a search in fewer databases than asked could miss the person.',
				},
			);
		}
		chosen = databases.filter((database) => prepared.databaseIds.includes(database.id));
	}
	const structures = await Promise.all(chosen.map(async (database) => await structureOf.call(this, state, database, itemIndex)));
	const emailFieldCount = structures.reduce(
		(sum, s) => sum + s.emailFields.length + s.collections.reduce((n, c) => n + c.emailFields.length, 0),
		0,
	);
	if (emailFieldCount === 0) {
		throw new NodeOperationError(
			this.getNode(),
			`No field of type Email in ${chosen.length === databases.length ? 'any database or collection of this account' : 'the chosen databases and their collections'}`,
			{
				itemIndex,
				description:
					'Find Person searches fields of type Email only, so it could not find anyone. In Copernica, give the field that holds email addresses the type Email, or choose other databases.',
			},
		);
	}
	const values = searchValues(email);

	const profiles = new Map<string, { record: IDataObject; structure: Structure; matchedField: string }>();
	const subprofiles = new Map<string, Found>();
	const addSubprofile = (record: IDataObject, structure: Structure, collection: Collection, matchedField: string | null) => {
		const id = idOf(record.ID ?? record.id);
		if (id === undefined || subprofiles.has(`${collection.id}:${id}`)) return;
		const profileId = idOf(record.profile) ?? '';
		subprofiles.set(`${collection.id}:${id}`, {
			key: { databaseId: structure.database.id, collectionId: collection.id, profileId, subprofileId: id },
			json: recordJson(
				record,
				{
					subjectType: 'subprofile',
					id,
					databaseId: structure.database.id,
					databaseName: structure.database.name,
					collectionId: collection.id,
					collectionName: collection.name,
					profileId,
				},
				matchedField,
				structure.database.archived,
				prepared,
			),
		});
	};

	// One search per email field and value; all pages of each.
	const searches: Array<Promise<void>> = [];
	const searchAll = (
		path: string,
		what: string,
		emailFields: string[],
		onMatch: (record: IDataObject, matchedField: string) => void,
	) => {
		for (const field of emailFields) {
			for (const value of values) {
				searches.push(
					(async () => {
						const records = await listAll.call(this, state, path, what, itemIndex, equalsCondition(field, value));
						for (const record of matchingRecords(records, field, value, email)) {
							onMatch(record, matchedFieldOf(fieldsOf(record.fields), emailFields, email) ?? field);
						}
					})(),
				);
			}
		}
	};
	for (const structure of structures) {
		const { database } = structure;
		searchAll(`/v3/database/${segment(database.id)}/profiles`, `the profiles of database ${database.id}`, structure.emailFields, (record, matchedField) => {
			const id = idOf(record.ID ?? record.id);
			if (id === undefined || profiles.has(`${database.id}:${id}`)) return;
			profiles.set(`${database.id}:${id}`, { record, structure, matchedField });
		});
		for (const collection of structure.collections) {
			searchAll(
				`/v3/collection/${segment(collection.id)}/subprofiles`,
				`the subprofiles of collection ${collection.id}`,
				collection.emailFields,
				(record, matchedField) => addSubprofile(record, structure, collection, matchedField),
			);
		}
	}
	await allOf(searches);

	// Every subprofile of every profile found, in every collection of its database: one call per
	// profile and collection, or, for many profiles, the collection as a whole where that is cheaper.
	const found = [...profiles.values()];
	await allOf(
		structures.flatMap((structure) => {
			const profileIds = found.filter((p) => p.structure === structure).map((p) => recordId(p.record) as string);
			if (profileIds.length === 0) return [];
			return structure.collections.map(async (collection) => {
				const add = (sub: IDataObject, profileId?: string) => {
					// The profile is known, also where a server leaves it out of the subprofile.
					const withProfile = profileId !== undefined && idOf(sub.profile) === undefined ? { ...sub, profile: profileId } : sub;
					addSubprofile(withProfile, structure, collection, matchedFieldOf(fieldsOf(sub.fields), collection.emailFields, email) ?? null);
				};
				if (profileIds.length >= SCAN_FROM_PROFILES) {
					const scanned = await subprofilesByScan.call(this, state, collection, new Set(profileIds), itemIndex);
					if (scanned !== undefined) {
						for (const sub of scanned) add(sub);
						return;
					}
				}
				await allOf(
					profileIds.map(async (profileId) => {
						const records = await listAll.call(
							this,
							state,
							`/v3/profile/${segment(profileId)}/subprofiles/${segment(collection.id)}`,
							`the subprofiles of profile ${profileId} in collection ${collection.id}`,
							itemIndex,
						);
						for (const sub of records) add(sub, profileId);
					}),
				);
			});
		}),
	);

	const matches: Found[] = [
		...found.map(({ record, structure, matchedField }): Found => {
			const id = idOf(record.ID ?? record.id) as string;
			return {
				key: { databaseId: structure.database.id, profileId: id },
				json: recordJson(
					record,
					{ subjectType: 'profile', id, databaseId: structure.database.id, databaseName: structure.database.name },
					matchedField,
					structure.database.archived,
					prepared,
				),
			};
		}),
		...subprofiles.values(),
	];
	if (matches.length === 0) {
		return [
			{
				json: { email, found: 'nothing', databasesSearched: structures.length, emailFieldsSearched: emailFieldCount },
				pairedItem: { item: itemIndex },
			},
		];
	}
	return matches.sort((a, b) => compareMatches(a.key, b.key)).map(({ json }) => ({ json, pairedItem: { item: itemIndex } }));
}

export async function execute(
	this: IExecuteFunctions,
	itemIndex: number,
	prepared: PreparedFind = prepare.call(this, itemIndex),
): Promise<INodeExecutionData[]> {
	return await search.call(this, itemIndex, prepared);
}

// ------------------------------------------------------------------ the editor's list of databases

/**
 * The account's databases for the "Databases" option. The editor's context is not an execution:
 * the transport gets only what it uses (node, credential, request helper, logger), with the
 * node's Retries and Timeout as set in the editor.
 */
export async function getDatabases(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const editor = this;
	const context = {
		getNode: () => editor.getNode(),
		getCredentials: async (type: string) => await editor.getCredentials(type),
		getNodeParameter: (name: string, _itemIndex: number, fallback: unknown) => editor.getCurrentNodeParameter(name) ?? fallback,
		helpers: editor.helpers,
		logger: editor.logger,
	} as unknown as IExecuteFunctions;
	const state: RunState = { limiter: new Limiter(1), structures: new Map() };
	const databases = await databasesOf.call(context, state, 0);
	return databases
		.map((database) => ({
			name: `${database.name}${database.archived ? ' (archived)' : ''}`,
			value: database.id,
			description: `ID ${database.id}`,
		}))
		.sort((a, b) => a.name.localeCompare(b.name));
}
