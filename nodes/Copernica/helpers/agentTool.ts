import type { IExecuteFunctions } from 'n8n-workflow';

/** Runs as an AI agent's tool: n8n gives the tool variant of a node a type name ending in "Tool". */
export const isAgentTool = (context: IExecuteFunctions): boolean => context.getNode().type.endsWith('Tool');
