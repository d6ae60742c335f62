'use strict';
/**
 * The sandbox's Copernica account: databases with fields (types, `email` among them), collections
 * with fields, profiles and subprofiles, in the shapes Copernica's REST v3 documentation shows:
 * ids and lengths as strings ("ID": "3144"), `fields` of a database or collection as a paged
 * list inside it, profiles `{ ID, fields, interests, database, secret, created, modified, removed }`,
 * subprofiles `{ ID, secret, fields, profile, collection, created, modified, removed }`.
 *
 * Lists answer `{ start, limit, count, data, total }` (no `total` with `total=false`); `limit`
 * defaults to 100 and is at most `maxLimit` (1000 at Copernica). `fields[]` conditions take
 * "field operator value": ==, !=, <>, <, >, <=, >=, =~ and !~ (like, `%` any run, `_` one
 * character, no escape character: Copernica documents none).
 *
 * Seeding (sandbox.setAccount(spec), the `account` option, POST /__sandbox/account), JSON only so
 * that it also travels over the control API:
 *
 *   { databases: [{
 *       ID: 1, name: 'Customers', description: '', archived: false,
 *       fields: [{ ID: 11, name: 'email', type: 'email' }, { name: 'firstname' }],   // type text by default
 *       collections: [{ ID: 101, name: 'Orders', fields: [{ name: 'contact', type: 'email' }] }],
 *       profiles: [{ ID: 1001, fields: { email: 'a@example.com' }, removed: false,
 *                    subprofiles: { Orders: [{ ID: 5001, fields: { contact: 'a@example.com' } }] } }],
 *       generate: { count: 2500, firstId: 100000, fields: { email: 'customer{i}@example.com' },
 *                   subprofiles: { Orders: 1 } },      // {i} = 0 .. count - 1
 *   }] }
 *
 * Ids that are left out are numbered per kind. `subprofiles` are keyed by collection name or ID.
 * A removed profile or subprofile (removed: true) is listed with empty fields and `removed: true`;
 * its former fields are kept for the `removedRecordsMatch` option only.
 */

const CREATED = '2019-04-01 09:30:00';
const MODIFIED = '2024-11-05 16:12:41';

class SeedError extends Error {}

const idText = (value) => String(value);

function fieldOut(field) {
	return {
		ID: field.ID,
		name: field.name,
		type: field.type,
		value: field.value,
		displayed: field.displayed,
		ordered: field.ordered,
		length: field.length,
		textlines: field.textlines,
		hidden: field.hidden,
		index: field.index,
	};
}

/** A paged list as Copernica nests it inside a database or collection: everything on one page. */
const nested = (data) => ({ start: 0, limit: 1000, count: data.length, data, total: data.length });

function secretOf(kind, id) {
	// Deterministic and hex, like Copernica's 32-character secrets.
	let h = 2166136261;
	for (const c of `${kind}:${id}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
	return (h.toString(16).padStart(8, '0')).repeat(4);
}

function fill(template, i) {
	return String(template).replace(/\{i\}/g, String(i));
}

class Account {
	constructor(spec = {}) {
		this.databases = new Map();
		this.collections = new Map();
		this.profiles = new Map();
		this.subprofiles = new Map();
		/** database id -> profiles in ID order; collection id -> subprofiles; `${profile}:${collection}` -> subprofiles */
		this.profilesOf = new Map();
		this.subprofilesOf = new Map();
		this.subprofilesOfProfile = new Map();
		this._next = { database: 1, field: 1, collection: 1, profile: 1, subprofile: 1 };
		const databases = spec.databases ?? [];
		if (!Array.isArray(databases)) throw new SeedError('account.databases must be a list');
		for (const db of databases) this._addDatabase(db);
		for (const list of [...this.profilesOf.values(), ...this.subprofilesOf.values(), ...this.subprofilesOfProfile.values()]) {
			list.sort((a, b) => Number(a.ID) - Number(b.ID));
		}
	}

	_id(kind, given, taken) {
		if (given !== undefined && given !== null) {
			const id = idText(given);
			if (!/^[1-9][0-9]*$/.test(id)) throw new SeedError(`${kind} ID ${JSON.stringify(given)} is not a positive whole number`);
			if (taken.has(id)) throw new SeedError(`${kind} ID ${id} is used twice`);
			this._next[kind] = Math.max(this._next[kind], Number(id) + 1);
			return id;
		}
		while (taken.has(String(this._next[kind]))) this._next[kind]++;
		return String(this._next[kind]++);
	}

	_fields(list, owner) {
		const names = new Set();
		this._fieldIds ??= new Set();
		return (list ?? []).map((f) => {
			if (!f || typeof f.name !== 'string' || f.name === '') throw new SeedError(`a field of ${owner} has no name`);
			if (names.has(f.name)) throw new SeedError(`${owner} has two fields named ${f.name}`);
			names.add(f.name);
			const ID = this._id('field', f.ID, this._fieldIds);
			this._fieldIds.add(ID);
			const type = f.type ?? 'text';
			return {
				ID,
				name: f.name,
				type,
				value: f.value ?? '',
				displayed: f.displayed ?? true,
				ordered: f.ordered ?? false,
				length: idText(f.length ?? (type === 'email' ? 100 : 255)),
				textlines: idText(f.textlines ?? 0),
				hidden: f.hidden ?? false,
				index: f.index ?? false,
			};
		});
	}

	_addDatabase(spec) {
		if (!spec || typeof spec.name !== 'string') throw new SeedError('a database needs a name');
		const ID = this._id('database', spec.ID, this.databases);
		const db = {
			ID,
			name: spec.name,
			description: spec.description ?? '',
			archived: spec.archived === true,
			created: spec.created ?? CREATED,
			fields: this._fields(spec.fields, `database ${spec.name}`),
			interests: (spec.interests ?? []).map((name, i) => ({ ID: idText(Number(ID) * 1000 + i + 1), name, group: '' })),
			collections: [],
		};
		this.databases.set(ID, db);
		this.profilesOf.set(ID, []);
		for (const c of spec.collections ?? []) {
			if (!c || typeof c.name !== 'string') throw new SeedError(`a collection of ${spec.name} needs a name`);
			const cid = this._id('collection', c.ID, this.collections);
			const collection = { ID: cid, name: c.name, database: ID, fields: this._fields(c.fields, `collection ${c.name}`) };
			this.collections.set(cid, collection);
			this.subprofilesOf.set(cid, []);
			db.collections.push(cid);
		}
		for (const p of spec.profiles ?? []) this._addProfile(db, p);
		const generate = spec.generate;
		if (generate) {
			const count = Number(generate.count);
			if (!Number.isInteger(count) || count < 0) throw new SeedError('generate.count must be a whole number');
			const firstId = generate.firstId === undefined ? undefined : Number(generate.firstId);
			for (let i = 0; i < count; i++) {
				const fields = Object.fromEntries(Object.entries(generate.fields ?? {}).map(([k, v]) => [k, fill(v, i)]));
				const subprofiles = Object.fromEntries(
					Object.entries(generate.subprofiles ?? {}).map(([collection, n]) => [
						collection,
						Array.from({ length: Number(n) }, () => ({ fields: Object.fromEntries(Object.entries(generate.subprofileFields?.[collection] ?? {}).map(([k, v]) => [k, fill(v, i)])) })),
					]),
				);
				this._addProfile(db, { ID: firstId === undefined ? undefined : firstId + i, fields, subprofiles });
			}
		}
	}

	_collectionOf(db, key) {
		const byId = this.collections.get(idText(key));
		if (byId && byId.database === db.ID) return byId;
		for (const cid of db.collections) if (this.collections.get(cid).name === key) return this.collections.get(cid);
		throw new SeedError(`database ${db.name} has no collection ${key}`);
	}

	_addProfile(db, spec) {
		const ID = this._id('profile', spec.ID, this.profiles);
		const profile = {
			ID,
			database: db.ID,
			fields: this._values(spec.fields, db.fields, `profile ${ID}`),
			interests: spec.interests ?? {},
			secret: secretOf('profile', ID),
			created: spec.created ?? CREATED,
			modified: spec.modified ?? MODIFIED,
			removed: spec.removed === true,
		};
		this.profiles.set(ID, profile);
		this.profilesOf.get(db.ID).push(profile);
		for (const [key, list] of Object.entries(spec.subprofiles ?? {})) {
			const collection = this._collectionOf(db, key);
			for (const s of list) {
				const sid = this._id('subprofile', s.ID, this.subprofiles);
				const sub = {
					ID: sid,
					secret: secretOf('subprofile', sid),
					fields: this._values(s.fields, collection.fields, `subprofile ${sid}`),
					profile: ID,
					collection: collection.ID,
					created: s.created ?? CREATED,
					modified: s.modified ?? MODIFIED,
					removed: s.removed === true,
				};
				this.subprofiles.set(sid, sub);
				this.subprofilesOf.get(collection.ID).push(sub);
				const key2 = `${ID}:${collection.ID}`;
				if (!this.subprofilesOfProfile.has(key2)) this.subprofilesOfProfile.set(key2, []);
				this.subprofilesOfProfile.get(key2).push(sub);
			}
		}
	}

	/** Every field of the database or collection, with the given values (strings) and '' elsewhere. */
	_values(given = {}, fields, owner) {
		const names = new Set(fields.map((f) => f.name));
		for (const name of Object.keys(given)) {
			if (!names.has(name)) throw new SeedError(`${owner} has a value for ${name}, which is not one of its fields`);
		}
		return Object.fromEntries(fields.map((f) => [f.name, given[f.name] === undefined ? '' : String(given[f.name])]));
	}

	summary() {
		return {
			databases: this.databases.size,
			archived: [...this.databases.values()].filter((d) => d.archived).length,
			collections: this.collections.size,
			profiles: this.profiles.size,
			subprofiles: this.subprofiles.size,
		};
	}

	// ------------------------------------------------------------ answers (the shapes the API sends)

	databaseOut(db) {
		return {
			ID: db.ID,
			name: db.name,
			description: db.description,
			archived: db.archived,
			created: db.created,
			fields: nested(db.fields.map(fieldOut)),
			interests: nested(db.interests),
			collections: nested(db.collections.map((cid) => this.collectionOut(this.collections.get(cid)))),
		};
	}
	collectionOut(c) {
		return { ID: c.ID, name: c.name, database: c.database, fields: nested(c.fields.map(fieldOut)) };
	}
	profileOut(p) {
		return {
			ID: p.ID,
			fields: p.removed ? {} : { ...p.fields },
			interests: p.removed ? {} : { ...p.interests },
			database: p.database,
			secret: p.secret,
			created: p.created,
			modified: p.modified,
			removed: p.removed,
		};
	}
	subprofileOut(s) {
		return {
			ID: s.ID,
			secret: s.secret,
			fields: s.removed ? {} : { ...s.fields },
			profile: s.profile,
			collection: s.collection,
			created: s.created,
			modified: s.modified,
			removed: s.removed,
		};
	}
}

// ------------------------------------------------------------ conditions (fields[])

const OPERATORS = ['==', '!=', '<>', '<=', '>=', '=~', '!~', '<', '>'];

/** "field operator value" -> { field, operator, value }; the field name holds no operator character. */
function parseCondition(text) {
	const m = /^([^=!<>~]+?)\s*(==|!=|<>|<=|>=|=~|!~|<|>)(.*)$/s.exec(text);
	if (!m) return undefined;
	return { field: m[1].trim(), operator: m[2], value: m[3] };
}

function likeToRegExp(pattern, caseSensitive) {
	let source = '';
	for (const c of pattern) {
		if (c === '%') source += '[\\s\\S]*';
		else if (c === '_') source += '[\\s\\S]';
		else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
	}
	return new RegExp(`^${source}$`, caseSensitive ? 'u' : 'iu');
}

/** Compile a condition; `caseSensitive: false` compares as MySQL's default collation does (case-insensitively). */
function compileCondition(condition, { caseSensitive }) {
	const { field, operator, value } = condition;
	const fold = (s) => (caseSensitive ? s : s.toLowerCase());
	const numeric = (a, b) => a.trim() !== '' && b.trim() !== '' && Number.isFinite(Number(a)) && Number.isFinite(Number(b));
	const compare = (a, b) => (numeric(a, b) ? Number(a) - Number(b) : fold(a) < fold(b) ? -1 : fold(a) > fold(b) ? 1 : 0);
	let test;
	switch (operator) {
		case '==':
			test = (v) => compare(v, value) === 0;
			break;
		case '!=':
		case '<>':
			test = (v) => compare(v, value) !== 0;
			break;
		case '<':
			test = (v) => compare(v, value) < 0;
			break;
		case '>':
			test = (v) => compare(v, value) > 0;
			break;
		case '<=':
			test = (v) => compare(v, value) <= 0;
			break;
		case '>=':
			test = (v) => compare(v, value) >= 0;
			break;
		case '=~':
		case '!~': {
			const re = likeToRegExp(value, caseSensitive);
			test = operator === '=~' ? (v) => re.test(v) : (v) => !re.test(v);
			break;
		}
		default:
			return undefined;
	}
	return (fields) => (Object.prototype.hasOwnProperty.call(fields, field) ? test(String(fields[field])) : false);
}

/**
 * Paging parameters as Copernica reads them: start (offset, default 0), limit (default 100, at
 * most maxLimit), total (default true; false/0 leaves it out).
 */
function pagingOf(query, maxLimit) {
	const int = (name, fallback) => {
		const raw = query.get(name);
		if (raw === null || raw === '') return fallback;
		const n = Number(raw);
		return Number.isFinite(n) ? Math.floor(n) : fallback;
	};
	const start = Math.max(0, int('start', 0));
	const limit = Math.min(maxLimit, Math.max(1, int('limit', 100)));
	const total = !/^(false|0|no)$/i.test(query.get('total') ?? 'true');
	return { start, limit, total };
}

function page(list, paging, map = (x) => x) {
	const data = list.slice(paging.start, paging.start + paging.limit).map(map);
	const body = { start: paging.start, limit: paging.limit, count: data.length, data };
	if (paging.total) body.total = list.length;
	return body;
}

module.exports = { Account, SeedError, OPERATORS, parseCondition, compileCondition, likeToRegExp, pagingOf, page };
