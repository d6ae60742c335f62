/**
 * "Return File As" and its output field: the same parameters, with the same names and texts, in
 * Get, Create and Wait and the trigger. The default keeps the file in n8n's binary data store and
 * only a summary in the item (data minimisation: see the README, "Where personal data rests").
 */
import type { IDisplayOptions, INodeProperties } from 'n8n-workflow';

type Show = NonNullable<IDisplayOptions['show']>;

export type ReturnAs = 'binary' | 'json';
export const DEFAULT_RETURN_AS: ReturnAs = 'binary';
export const DEFAULT_BINARY_PROPERTY = 'data';

/** @param show where the parameters appear (e.g. for which operations); nothing: always */
export function fileParameters(show: Show = {}): INodeProperties[] {
	const onlyFor = (extra: Show = {}) => {
		const all = { ...show, ...extra };
		return Object.keys(all).length > 0 ? { displayOptions: { show: all } } : {};
	};
	return [
		{
			displayName: 'Return File As',
			name: 'returnAs',
			type: 'options',
			...onlyFor(),
			options: [
				{
					name: 'Binary File',
					value: 'binary',
					description:
						'The file itself, to attach to a ticket or a reply; the item gets a summary (counts, size). Keeps the personal data out of the item and out of the execution\'s JSON.',
				},
				{
					name: 'JSON',
					value: 'json',
					description:
						'The file\'s "info" and "data" in the item, for nodes that read its contents. n8n then stores every message, open and click in the execution history.',
				},
			],
			default: DEFAULT_RETURN_AS,
			description: 'How the file comes out of this node',
		},
		{
			displayName: 'Put Output File in Field',
			name: 'binaryPropertyName',
			type: 'string',
			default: DEFAULT_BINARY_PROPERTY,
			...onlyFor({ returnAs: ['binary'] }),
			hint: 'The name of the output binary field to put the file in',
		},
	];
}

/** The binary field to use: an empty one falls back to "data". */
export function binaryPropertyOf(value: unknown): string {
	const name = typeof value === 'string' ? value.trim() : '';
	return name === '' ? DEFAULT_BINARY_PROPERTY : name;
}

/** The attachment's file name, after the request it answers: copernica-data-request-8812.json. */
export function fileNameFor(requestId: string | undefined): string {
	const safe = (requestId ?? '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 64);
	return safe === '' ? 'copernica-data-request.json' : `copernica-data-request-${safe}.json`;
}
