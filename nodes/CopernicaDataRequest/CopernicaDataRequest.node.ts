import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import * as create from './actions/create.operation';
import * as get from './actions/get.operation';
import { router } from './actions/router';

export class CopernicaDataRequest implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Copernica Data Request',
		name: 'copernicaDataRequest',
		icon: { light: 'file:copernica.svg', dark: 'file:copernica.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{ $parameter["operation"] === "create" ? "Create data request" : "Get data request" }}',
		description: 'Ask Copernica for everything it holds on a person (GDPR right of access) and fetch the file',
		defaults: { name: 'Copernica Data Request' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'copernicaApi', required: true }],
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{
						name: 'Create',
						value: 'create',
						action: 'Create a data request',
						description: 'Ask Copernica to assemble everything it holds on a person. Returns the request ID and the GDPR due date.',
					},
					{
						name: 'Get',
						value: 'get',
						action: 'Get a data request',
						description: 'Check whether the file is ready and, if it is, return it',
					},
				],
				default: 'create',
			},
			...create.description,
			...get.description,
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add option',
				default: {},
				options: [
					{
						displayName: 'Timeout (Seconds)',
						name: 'timeout',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 120,
						description:
							'How long to wait for Copernica to start answering (and between parts of a large download) before the call counts as failed',
					},
				],
			},
		],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
