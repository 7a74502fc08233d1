/**
 * The Temporal Web UI link of a workflow, built from the worker's configuration (the UI's address
 * is deployment knowledge, not something workflow code may hold or compute).
 */
import type { PipelineConfig } from '../config/environment';
import { workflowUiLink as buildLink } from '../temporal/connect';

export function createWorkflowUiLinkActivity(config: PipelineConfig) {
  return {
    async workflowUiLink(workflowId: string, runId?: string): Promise<string> {
      return buildLink(config, workflowId, runId);
    },
  };
}
