'use strict';
/**
 * Deterministic generator of a Copernica data request file ("the file").
 *
 * Shape (what Copernica documents, plus a `kind` member on every entry so consumers can count):
 *
 *   { "info": { "type": "email" | "profile" | "subprofile", "id": "<email>" | <number> },
 *     "data": [
 *       [ message, message, ... ],   // group 0: complete MIME messages that were sent
 *       [ open, open, ... ],         // group 1: opens
 *       [ click, click, ... ],       // group 2: clicks
 *       [ survey, survey, ... ]      // group 3: completed survey answers
 *     ] }
 *
 *   message: {"kind":"message","messageId":"<...>","time":ISO,"subject":s,"mime":"<full MIME text>"}
 *            the MIME text has From/To/Subject/Date/Message-ID/MIME-Version headers and a
 *            multipart/alternative body with a text/plain and a text/html part; To is the subject
 *            (the email address, or subscriber<id>@example.com for profiles and subprofiles).
 *   open:    {"kind":"open","time":ISO,"ip":s,"userAgent":s,"messageId":"<...>"}
 *   click:   {"kind":"click","time":ISO,"url":s,"ip":s,"messageId":"<...>"}
 *   survey:  {"kind":"survey","time":ISO,"surveyId":n,"question":s,"answer":s}
 *
 * Every group holds at least one entry; the file is at least `size` bytes (it overshoots by less
 * than one entry per group). Opens and clicks refer to message ids that exist in the file.
 *
 * Why templates: a 500 MB file must be streamed with its exact length known up front. Entries are
 * rendered from a fixed set of pre-escaped templates whose variable fields (index, timestamps) have
 * a fixed width, so the byte length of every entry is known without rendering it; the length of a
 * whole file is an integer loop, not a generating pass.
 */
const { Readable } = require('node:stream');

const KINDS = ['message', 'open', 'click', 'survey'];
// Share of the byte budget per group (messages dominate real files).
const SHARES = [0.85, 0.06, 0.05, 0.04];
const TEMPLATES_PER_KIND = 64;
const CHUNK_CHARS = 64 * 1024;
const BASE_TIME = Date.UTC(2019, 0, 1);
const HOUR = 3600 * 1000;

/** Small seeded PRNG (mulberry32): same seed, same sequence, on every Node version. */
function prng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/** Integer hash for picking a template per entry without keeping state. */
function hash(seed, group, i) {
	let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(group + 1, 0xc2b2ae35) ^ i;
	h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
	h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
	return (h ^ (h >>> 16)) >>> 0;
}

// ---- word material for the templates ----
const WORDS = (
	'the new collection is here and we think you will love it our summer sale starts today ' +
	'with discounts on shoes bags jackets and more free delivery on every order above fifty euro ' +
	'thank you for being a loyal customer your points balance has been updated read the latest ' +
	'stories from our team about sustainable materials and fair production café Grüße naïve ' +
	'please confirm your subscription to keep receiving our newsletter unsubscribe at any time'
).split(' ');
const SUBJECTS = [
	'Your weekly update', 'Summer sale: up to 50% off', 'We miss you', 'Your order has shipped',
	'New arrivals this week', 'Confirm your subscription', 'A gift for your birthday',
	'Last chance: sale ends tonight', 'Tell us what you think', 'Your points statement',
];
const USER_AGENTS = [
	'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
	'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
	'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
	'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)',
	'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
];
const QUESTIONS = [
	['How satisfied are you with our service?', ['Very satisfied', 'Satisfied', 'Neutral', 'Unsatisfied']],
	['How likely are you to recommend us to a friend?', ['10', '9', '8', '6', '3']],
	['Which topics interest you?', ['Fashion, shoes', 'Sustainability', 'Sales only', 'Alles über Mode']],
	['Any other comments?', ['Great shop, fast delivery!', 'Delivery took too long.', 'Très bien — merci', 'No']],
];

function sentence(rand) {
	const n = 6 + Math.floor(rand() * 14);
	const w = [];
	for (let i = 0; i < n; i++) w.push(WORDS[Math.floor(rand() * WORDS.length)]);
	const s = w.join(' ');
	return s[0].toUpperCase() + s.slice(1) + '.';
}
function paragraphs(rand, count) {
	const out = [];
	for (let p = 0; p < count; p++) {
		const n = 2 + Math.floor(rand() * 5);
		const s = [];
		for (let i = 0; i < n; i++) s.push(sentence(rand));
		out.push(s.join(' '));
	}
	return out;
}
function ip(rand) {
	const nets = ['192.0.2.', '198.51.100.', '203.0.113.'];
	return nets[Math.floor(rand() * 3)] + (1 + Math.floor(rand() * 254));
}

// Placeholders, replaced by fixed-width values when rendering:
//   @@N@@ entry index (9 digits)   @@T@@ ISO time (24 chars)   @@D@@ RFC 2822 date (29 chars)
//   @@M@@ referenced message index (9 digits)   @@R@@ recipient (JSON-escaped, variable: counted apart)
const MSGID = (field) => `<${field}.sandbox@mail.example.com>`;

function messageTemplate(rand) {
	const subject = SUBJECTS[Math.floor(rand() * SUBJECTS.length)];
	const paras = paragraphs(rand, 1 + Math.floor(rand() * 8));
	const link = `https://www.example.com/c/${Math.floor(rand() * 1e6)}?utm_source=newsletter`;
	const boundary = '=_b@@N@@';
	const text = paras.join('\r\n\r\n') + `\r\n\r\nView online: ${link}\r\n`;
	const html =
		'<!DOCTYPE html><html><head><meta charset="utf-8"><title>' + subject + '</title></head>' +
		'<body><table width="600"><tr><td>' +
		paras.map((p) => `<p style="font-family:Arial">${p}</p>`).join('\r\n') +
		`<p><a href="${link}">View online</a></p></td></tr></table></body></html>`;
	const mime = [
		'Return-Path: <bounce-@@N@@@mail.example.com>',
		'From: "Example Shop" <news@example.com>',
		'To: <@@R@@>',
		`Subject: ${subject}`,
		'Date: @@D@@',
		`Message-ID: ${MSGID('@@N@@')}`,
		'MIME-Version: 1.0',
		`Content-Type: multipart/alternative; boundary="${boundary}"`,
		'',
		'This is a multi-part message in MIME format.',
		'',
		`--${boundary}`,
		'Content-Type: text/plain; charset=utf-8',
		'Content-Transfer-Encoding: 8bit',
		'',
		text,
		`--${boundary}`,
		'Content-Type: text/html; charset=utf-8',
		'Content-Transfer-Encoding: 8bit',
		'',
		html,
		`--${boundary}--`,
		'',
	].join('\r\n');
	return { kind: 'message', messageId: MSGID('@@N@@'), time: '@@T@@', subject, mime };
}
function openTemplate(rand) {
	return {
		kind: 'open', time: '@@T@@', ip: ip(rand),
		userAgent: USER_AGENTS[Math.floor(rand() * USER_AGENTS.length)], messageId: MSGID('@@M@@'),
	};
}
function clickTemplate(rand) {
	const paths = ['sale', 'new-arrivals', 'account/points', 'stories/materials', 'unsubscribe'];
	const url = `https://www.example.com/${paths[Math.floor(rand() * paths.length)]}?utm_medium=email&mid=${Math.floor(rand() * 1e5)}`;
	return { kind: 'click', time: '@@T@@', url, ip: ip(rand), messageId: MSGID('@@M@@') };
}
function surveyTemplate(rand) {
	const [question, answers] = QUESTIONS[Math.floor(rand() * QUESTIONS.length)];
	return {
		kind: 'survey', time: '@@T@@', surveyId: 100 + Math.floor(rand() * 20), question,
		answer: answers[Math.floor(rand() * answers.length)],
	};
}

const FIELD_WIDTH = { N: 9, M: 9, T: 24, D: 29 };

/**
 * Templates: per group, TEMPLATES_PER_KIND entries as JSON text split at the placeholders.
 * `parts` alternates literal text (even indexes) and field names (odd indexes); `bytes` is the
 * UTF-8 length with every fixed-width field filled in and the recipient empty; `recipients` is how
 * often @@R@@ occurs.
 */
const TEMPLATES = [messageTemplate, openTemplate, clickTemplate, surveyTemplate].map((make, g) => {
	const rand = prng(1000 + g);
	const list = [];
	for (let k = 0; k < TEMPLATES_PER_KIND; k++) {
		const parts = JSON.stringify(make(rand)).split(/@@([NTDMR])@@/);
		let bytes = 0;
		let recipients = 0;
		for (let j = 0; j < parts.length; j++) {
			if (j % 2 === 0) bytes += Buffer.byteLength(parts[j]);
			else if (parts[j] === 'R') recipients++;
			else bytes += FIELD_WIDTH[parts[j]];
		}
		list.push({ parts, bytes, recipients });
	}
	return list;
});

function pad9(n) {
	const s = String(n);
	if (s.length > 9) throw new Error('datafile: too many entries');
	return '000000000'.slice(s.length) + s;
}
// Time of entry i in group g; opens and clicks follow the message they refer to.
function entryTime(g, i, m) {
	if (g === 0) return BASE_TIME + i * 8 * HOUR;
	if (g === 3) return BASE_TIME + i * 30 * HOUR + 17 * 60000;
	return BASE_TIME + m * 8 * HOUR + (1 + (i % 47)) * (g === 1 ? 60000 : 90000);
}

function normalize(options = {}) {
	const type = options.type || 'email';
	let id = options.id !== undefined ? options.id : 'someone@example.com';
	if (type !== 'email' && /^\d+$/.test(String(id)) && Number.isSafeInteger(Number(id))) id = Number(id);
	const recipient = type === 'email' ? String(id) : `subscriber${id}@example.com`;
	return {
		size: Math.max(0, Math.floor(Number(options.size !== undefined ? options.size : 20000))),
		seed: (options.seed !== undefined ? Number(options.seed) : 1) >>> 0,
		type,
		id,
		recipientJson: JSON.stringify(recipient).slice(1, -1),
	};
}

/**
 * Plan a file: how many entries per group, and its exact byte length. Cheap (no rendering).
 * @param {{size?:number, type?:'email'|'profile'|'subprofile', id?:string|number, seed?:number, record?:unknown[]}} options
 * @returns {{length:number, counts:{message:number,open:number,click:number,survey:number},
 *            chunks:()=>Generator<string>, stream:(opts?:{encode?:(s:string)=>string})=>Readable}}
 */
function planDataFile(options) {
	const o = normalize(options);
	// A profile's or subprofile's own record (its fields, interests, subprofiles) comes first, as a group of its own.
	const record = options.record !== undefined ? `${JSON.stringify(options.record)},` : '';
	const header = `{"info":${JSON.stringify({ type: o.type, id: o.id })},"data":[${record}`;
	const footer = ']}';
	const recipientBytes = Buffer.byteLength(o.recipientJson);
	const fixed = Buffer.byteLength(header) + footer.length + 3 /* commas between groups */ + 8; /* [ ] per group */
	const budget = Math.max(0, o.size - fixed);
	const counts = [0, 0, 0, 0];
	let length = fixed;
	for (let g = 0; g < 4; g++) {
		const want = budget * SHARES[g];
		let bytes = 0;
		let i = 0;
		do {
			const t = TEMPLATES[g][hash(o.seed, g, i) % TEMPLATES_PER_KIND];
			bytes += t.bytes + t.recipients * recipientBytes + (i > 0 ? 1 : 0);
			i++;
		} while (bytes < want);
		counts[g] = i;
		length += bytes;
	}

	function* chunks() {
		let buf = header;
		const messages = counts[0];
		for (let g = 0; g < 4; g++) {
			buf += g === 0 ? '[' : '],[';
			for (let i = 0; i < counts[g]; i++) {
				const t = TEMPLATES[g][hash(o.seed, g, i) % TEMPLATES_PER_KIND];
				const m = (i * 7919) % messages; // spread references over the messages
				const time = new Date(entryTime(g, i, m));
				if (i > 0) buf += ',';
				const p = t.parts;
				for (let j = 0; j < p.length; j++) {
					if (j % 2 === 0) buf += p[j];
					else if (p[j] === 'N') buf += pad9(i);
					else if (p[j] === 'M') buf += pad9(m);
					else if (p[j] === 'T') buf += time.toISOString();
					else if (p[j] === 'D') buf += time.toUTCString();
					else buf += o.recipientJson;
				}
				if (buf.length >= CHUNK_CHARS) {
					yield buf;
					buf = '';
				}
			}
		}
		yield buf + ']' + footer;
	}

	return {
		length,
		counts: { message: counts[0], open: counts[1], click: counts[2], survey: counts[3] },
		chunks,
		/** A byte stream of the file (pull-based: memory stays flat, backpressure is respected). */
		stream({ encode } = {}) {
			const it = chunks();
			return new Readable({
				read() {
					const { value, done } = it.next();
					this.push(done ? null : Buffer.from(encode ? encode(value) : value));
				},
			});
		},
	};
}

/** The whole file as text (small files only). */
function dataFileText(options) {
	let s = '';
	for (const c of planDataFile(options).chunks()) s += c;
	return s;
}

/** The whole file as an object (small files only), for unit tests. */
function buildDataFile(options) {
	return JSON.parse(dataFileText(options));
}

module.exports = { planDataFile, buildDataFile, dataFileText, KINDS };

// `node test/sandbox/datafile.js SIZE [email]` writes a file to stdout (for benchmarks by hand).
if (require.main === module) {
	const size = Number(String(process.argv[2] || '20000').replace(/mb$/i, '000000').replace(/kb$/i, '000'));
	const plan = planDataFile({ size, id: process.argv[3] });
	process.stderr.write(`length ${plan.length} ${JSON.stringify(plan.counts)}\n`);
	plan.stream().pipe(process.stdout);
}
