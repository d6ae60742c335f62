/**
 * The credential's base URL without trailing slashes or API version, e.g. `https://api.copernica.com`:
 * users paste `https://api.copernica.com/v3/` as often as the bare host. The version comes from
 * the credential's API Version; a base URL that names the other one is refused (`baseUrlVersionConflict`),
 * never silently sent to the version it does not name. One set of functions for the nodes' calls
 * and the credential's Test.
 */
export const DEFAULT_BASE_URL = 'https://api.copernica.com';
export const DEFAULT_AUTHENTICATION_URL = 'https://authenticate.copernica.com';

export type ApiVersion = 'v3' | 'v4';

export function normalizeBaseUrl(baseUrl: unknown): string {
	const text = String(baseUrl ?? '').trim() || DEFAULT_BASE_URL;
	return text.replace(/\/+$/, '').replace(/\/v[34]$/i, '');
}

/** The credential's API Version; anything but `v3` is v4 (the field's default). */
export function apiVersionOf(credentials: { apiVersion?: unknown }): ApiVersion {
	return credentials.apiVersion === 'v3' ? 'v3' : 'v4';
}

/** The text for a base URL that ends in the other version than the credential's, or undefined. */
export function baseUrlVersionConflict(baseUrl: unknown, version: ApiVersion): string | undefined {
	const named = /\/(v[34])\/*$/i.exec(String(baseUrl ?? '').trim())?.[1].toLowerCase();
	if (named === undefined || named === version) return undefined;
	return `The credential's Base URL ends in /${named}, but its API Version is ${version}: set API Version to ${named}, or remove /${named} from the Base URL`;
}

/** A path written for v3 (`/v3/...`, as the operations write them) under the credential's version. */
export function versionedPath(path: string, version: ApiVersion): string {
	return version === 'v4' ? path.replace(/^\/v3\//, '/v4/') : path;
}
