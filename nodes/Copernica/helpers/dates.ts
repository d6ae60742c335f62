/**
 * GDPR Art. 12(3): a subject access request is answered "within one month of receipt". A month
 * ends on the same day of the next month, or on that month's last day when it has no such day
 * (31 January -> 28/29 February), as EU Regulation 1182/71 counts periods.
 */
export function addOneMonth(date: Date): Date {
	const year = date.getUTCFullYear();
	const month = date.getUTCMonth() + 1;
	const lastDayOfNextMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
	const day = Math.min(date.getUTCDate(), lastDayOfNextMonth);
	return new Date(
		Date.UTC(
			year,
			month,
			day,
			date.getUTCHours(),
			date.getUTCMinutes(),
			date.getUTCSeconds(),
			date.getUTCMilliseconds(),
		),
	);
}
