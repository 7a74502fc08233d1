/**
 * Bundles put in the checkpoints bucket object by object, as a training service would write them
 * (no client checks, so the worker's own checks are what refuses a bad one), and the registry's
 * versions of a model name, for tests that expect nothing registered. Tests only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelineConfig } from '../../../config/environment';
import { MlflowClient } from '../../../registry/mlflow-client';
import { createMinioClient } from '../../../storage/minio-client';
import { uniqueName } from './stack';

/** Puts `files` of the local folder `dir` under a fresh prefix named after `label`; returns the bundle's URI. */
export async function putRawBundle(
  config: PipelineConfig,
  dir: string,
  files: readonly string[],
  label: string,
): Promise<string> {
  const minio = createMinioClient(config.s3);
  const prefix = `bundles/${uniqueName(label)}/`;
  for (const f of files)
    await minio.putObject(config.s3.checkpointsBucket, `${prefix}${f}`, readFileSync(join(dir, f)));
  return `s3://${config.s3.checkpointsBucket}/${prefix}`;
}

/** The registry's versions of `modelName` (none after a refused export). */
export async function versionsOf(config: PipelineConfig, modelName: string) {
  return new MlflowClient(config.mlflow.trackingUri).searchModelVersions(`name='${modelName}'`);
}
