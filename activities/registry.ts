/**
 * Registry activity: one MLflow model version per (model name, ONNX sha256), found again on a
 * retry. Thin: validate, call registry/register-model-version.ts, map errors to failures.
 */
import { Context } from '@temporalio/activity';
import type { PublishedModel } from '../registry/model-directory';
import { registerModelVersion, type ModelRegistryApi, type RegistryEntry } from '../registry/register-model-version';
import { toActivityFailure } from './upload';

export interface RegistryActivityDeps {
  mlflow: ModelRegistryApi;
}

export interface RegisterModelActivityInput {
  published: Pick<PublishedModel, 'modelName' | 'sha256' | 'source'>;
  runId?: string;
  /** Defaults to the calling workflow's id. */
  workflowId?: string;
  opset?: number;
  parity?: { maxAbsError: number; meanAbsError: number };
  cpuP50Ms?: number;
  description?: string;
  /** Alias to point at the version (the workflow passes REGISTRY_DEFAULTS.alias); null or '' for none. */
  alias?: string | null;
  tags?: Record<string, string>;
}

export function createRegistryActivities(deps: RegistryActivityDeps) {
  return {
    async registerModel(input: RegisterModelActivityInput): Promise<RegistryEntry> {
      const ctx = Context.current();
      try {
        const { published, ...rest } = input;
        return await registerModelVersion(deps.mlflow, {
          ...rest,
          modelName: published.modelName,
          sha256: published.sha256,
          source: published.source,
          workflowId: input.workflowId ?? ctx.info.workflowExecution?.workflowId,
          alias: input.alias || null,
        });
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}

export type RegistryActivities = ReturnType<typeof createRegistryActivities>;
