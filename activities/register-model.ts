/**
 * The register stage: one MLflow model version per (model name, ONNX sha256), found again on a
 * retry. Thin: call registry/register-model-version.ts, map errors (failures.ts).
 */
import { Context } from '@temporalio/activity';
import type { PublishedModel } from '../registry/model-directory';
import {
  registerModelVersion,
  type ModelRegistryApi,
  type RegisterModelInput,
  type RegistryEntry,
} from '../registry/register-model-version';
import { toActivityFailure } from './failures';

export interface RegisterModelDeps {
  mlflow: ModelRegistryApi;
}

/** The registry's input, with the published directory in place of its three fields. */
export interface RegisterModelActivityInput extends Omit<RegisterModelInput, 'modelName' | 'sha256' | 'source'> {
  published: Pick<PublishedModel, 'modelName' | 'sha256' | 'source'>;
}

export function createRegisterModelActivity(deps: RegisterModelDeps) {
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
