/**
 * The credential's base URL without trailing slashes or API version, e.g. `https://api.copernica.com`:
 * users paste `https://api.copernica.com/v3/` as often as the bare host. One function for the
 * nodes' calls and the credential's Test.
 */
export const DEFAULT_BASE_URL = 'https://api.copernica.com';

export function normalizeBaseUrl(baseUrl: unknown): string {
	const text = String(baseUrl ?? '').trim() || DEFAULT_BASE_URL;
	return text.replace(/\/+$/, '').replace(/\/v[34]$/i, '');
}
