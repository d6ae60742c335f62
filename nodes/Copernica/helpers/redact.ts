/**
 * Copernica's v3 API takes the access token in the query string, so it sits in every request URL.
 * Whatever text may reach an error, a log line or an output passes through here first: proxies
 * and load balancers echo URLs in their error pages, and HTTP clients put them in messages.
 */
const MASK = '***';

export function redactSecrets(text: string, secrets: Array<string | undefined>): string {
	let result = text
		.replace(/(access_token(?:=|%3D))[^&\s"'<>]+/gi, `$1${MASK}`)
		.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, `$1${MASK}`);
	for (const secret of secrets) {
		// Very short values would mask ordinary words; real tokens are long.
		if (!secret || secret.length < 6) continue;
		for (const form of new Set([secret, encodeURIComponent(secret)])) {
			result = result.split(form).join(MASK);
		}
	}
	return result;
}

/**
 * A report URL as it may be shown: the value of its `secret` query parameter (the trigger's
 * secret, which opens the workflow) masked. Anything that is not such a URL is returned as it is.
 */
export function maskReportSecret(report: string): string {
	return report.replace(/([?&]secret=)[^&#]*/gi, `$1${MASK}`);
}
