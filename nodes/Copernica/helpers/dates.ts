/**
 * GDPR Art. 12(3): a subject access request is answered "within one month of receipt", and the
 * period may be extended by two further months. A month ends on the same day of the next month,
 * or on that month's last day when it has no such day (31 January -> 28/29 February), as EU
 * Regulation 1182/71 counts periods; a period ends at the end of its last day. Days are the
 * days of the time zone n8n runs the workflow in.
 */

interface LocalDate {
	year: number;
	month: number; // 0-11
	day: number;
}

// Making a DateTimeFormat costs far more than using one, and Create works out deadlines for
// every item: one of each kind per time zone is kept (there are a few hundred zones at most).
const dateFormats = new Map<string, Intl.DateTimeFormat>();
const wallClockFormats = new Map<string, Intl.DateTimeFormat>();
const DATE: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'numeric', day: 'numeric' };
const WALL_CLOCK: Intl.DateTimeFormatOptions = { ...DATE, hourCycle: 'h23', hour: 'numeric', minute: 'numeric', second: 'numeric' };

function formatFor(formats: Map<string, Intl.DateTimeFormat>, timeZone: string, options: Intl.DateTimeFormatOptions) {
	let format = formats.get(timeZone);
	if (format === undefined) {
		format = new Intl.DateTimeFormat('en-US', { timeZone, ...options });
		formats.set(timeZone, format);
	}
	return format;
}

/** The calendar date of `date` in `timeZone` (an IANA name such as Europe/Amsterdam). */
function localDateOf(date: Date, timeZone: string): LocalDate {
	const parts = formatFor(dateFormats, timeZone, DATE).formatToParts(date);
	const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
	return { year: part('year'), month: part('month') - 1, day: part('day') };
}

/** The same day `months` later, or the last day of that month when it has no such day. */
function addMonths({ year, month, day }: LocalDate, months: number): LocalDate {
	const target = new Date(Date.UTC(year, month + months, 1));
	const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
	return { year: target.getUTCFullYear(), month: target.getUTCMonth(), day: Math.min(day, lastDay) };
}

/** How far `timeZone`'s wall clock is ahead of UTC at `instant` (ms). */
function offsetMs(instant: number, timeZone: string): number {
	const parts = formatFor(wallClockFormats, timeZone, WALL_CLOCK).formatToParts(new Date(instant));
	const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
	const wall = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
	return wall - Math.floor(instant / 1000) * 1000;
}

/** The last millisecond of a local day in `timeZone`, as an instant. */
function endOfLocalDay({ year, month, day }: LocalDate, timeZone: string): Date {
	const wall = Date.UTC(year, month, day, 23, 59, 59, 999);
	// The offset at the wall time itself, then once more at the result (a DST change that day).
	let instant = wall - offsetMs(wall, timeZone);
	instant = wall - offsetMs(instant, timeZone);
	return new Date(instant);
}

/** A time zone name Intl accepts, or UTC. */
export function usableTimeZone(timeZone: unknown): string {
	if (typeof timeZone !== 'string' || timeZone === '') return 'UTC';
	try {
		formatFor(dateFormats, timeZone, DATE);
		return timeZone;
	} catch {
		return 'UTC';
	}
}

// The items of one run are received on the same local day: the last day's deadlines are kept.
let lastDeadlines: { key: string; dueBy: number; extendedDueBy: number } | undefined;

/**
 * The deadlines of a request received at `receivedAt`: `dueBy`, the end of the same day one month
 * later, and `extendedDueBy`, with the two-month extension (three months).
 */
export function gdprDeadlines(receivedAt: Date, timeZone: string): { dueBy: Date; extendedDueBy: Date } {
	const zone = usableTimeZone(timeZone);
	const received = localDateOf(receivedAt, zone);
	const key = `${zone} ${received.year}-${received.month}-${received.day}`;
	if (lastDeadlines?.key !== key) {
		lastDeadlines = {
			key,
			dueBy: endOfLocalDay(addMonths(received, 1), zone).getTime(),
			extendedDueBy: endOfLocalDay(addMonths(received, 3), zone).getTime(),
		};
	}
	return { dueBy: new Date(lastDeadlines.dueBy), extendedDueBy: new Date(lastDeadlines.extendedDueBy) };
}
