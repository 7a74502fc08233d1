/**
 * What the servers hold after an export, read from MinIO and MLflow themselves (never from the
 * worker's own report), and the invariant every fault case must leave behind: one staged object
 * under `staging/<sha256>/`, no incomplete multipart upload anywhere in the models bucket, one
 * MLflow model directory (one MLmodel, one model.onnx) under `models/<name>/`, whose model.onnx
 * downloaded and hashed is the sha256 registered in MLflow and the one the export returned, and
 * exactly one registry version for the model name, the one the export's result names.
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { PipelineConfig } from '../../../config/environment';
import { MlflowClient, type ModelVersion } from '../../../registry/mlflow-client';
import { sha256Filter, VERSION_TAGS } from '../../../registry/register-model-version';
import { createMinioClient } from '../../../storage/minio-client';
import { modelDirectoryPrefix, s3Uri, stagingKey } from '../../../storage/object-keys';
import type { ExportResult } from '../../../workflows/export-model';

export interface PublishedState {
  /** Every key under `staging/<sha256>/`. */
  stagingKeys: string[];
  /** Every incomplete multipart upload in the models bucket (any key). */
  incompleteUploads: { key: string; uploadId: string }[];
  /** Every key under `models/<name>/` (all sha256s). */
  modelKeys: string[];
  /** sha256 and size of `models/<name>/<sha256>/model.onnx` as downloaded, when it exists. */
  publishedOnnx: { key: string; sha256: string; bytes: number } | undefined;
  /** Every registry version of the model name, and those tagged with this sha256. */
  versions: ModelVersion[];
  versionsOfSha: ModelVersion[];
}

/** Reads the servers' state for (modelName, sha256). `config` must point at the servers directly, not a proxy. */
export async function readPublishedState(
  config: PipelineConfig,
  modelName: string,
  sha256: string,
): Promise<PublishedState> {
  const minio = createMinioClient(config.s3);
  const bucket = config.s3.modelsBucket;
  const list = async (prefix: string): Promise<string[]> => {
    const keys: string[] = [];
    for await (const obj of minio.listObjectsV2(bucket, prefix, true)) if (obj.name) keys.push(obj.name);
    return keys.sort();
  };
  const stagingKeys = await list(stagingKey(sha256).replace(/model\.onnx$/, ''));
  const incompleteUploads: PublishedState['incompleteUploads'] = [];
  for await (const u of minio.listIncompleteUploads(bucket, '', true))
    incompleteUploads.push({ key: u.key, uploadId: u.uploadId });
  const modelKeys = await list(`models/${modelName}/`);
  const onnxKey = `${modelDirectoryPrefix(modelName, sha256)}model.onnx`;
  let publishedOnnx: PublishedState['publishedOnnx'];
  if (modelKeys.includes(onnxKey)) {
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of await minio.getObject(bucket, onnxKey)) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
    publishedOnnx = { key: onnxKey, sha256: hash.digest('hex'), bytes };
  }
  const mlflow = new MlflowClient(config.mlflow.trackingUri);
  const versions = await mlflow.searchModelVersions(`name='${modelName}'`);
  const versionsOfSha = await mlflow.searchModelVersions(sha256Filter(modelName, sha256));
  return { stagingKeys, incompleteUploads, modelKeys, publishedOnnx, versions, versionsOfSha };
}

function tag(v: ModelVersion | undefined, key: string): string | undefined {
  return v?.tags?.find((t) => t.key === key)?.value;
}

/**
 * The post-fault invariant, asserted from the servers' state for the export's (modelName, sha256).
 * Each fault case uses its own model name, so "one version of the model name" is exact.
 */
export async function expectPublishedState(config: PipelineConfig, result: ExportResult): Promise<PublishedState> {
  const { modelName, sha256 } = result;
  expect(result.onnx.sha256).toBe(sha256);
  const state = await readPublishedState(config, modelName, sha256);
  const dir = modelDirectoryPrefix(modelName, sha256);

  // MinIO: one staged object, nothing half-uploaded, one complete model directory.
  expect(state.stagingKeys, `objects under staging/${sha256}/`).toEqual([stagingKey(sha256)]);
  expect(state.incompleteUploads, 'incomplete multipart uploads in the models bucket').toEqual([]);
  expect(
    state.modelKeys.filter((k) => k.endsWith('/MLmodel')),
    `MLmodel files under models/${modelName}/`,
  ).toEqual([`${dir}MLmodel`]);
  expect(
    state.modelKeys.filter((k) => k.endsWith('model.onnx')),
    `model.onnx files under models/${modelName}/`,
  ).toEqual([`${dir}model.onnx`]);
  expect(
    state.modelKeys.every((k) => k.startsWith(dir)),
    `every key under models/${modelName}/ is in ${dir}`,
  ).toBe(true);
  // The published bytes themselves: downloaded, hashed.
  expect(state.publishedOnnx?.sha256, `sha256 of the downloaded ${dir}model.onnx`).toBe(sha256);
  expect(state.publishedOnnx?.bytes).toBe(result.onnx.bytes);

  // MLflow: one version of the model name, tagged with the sha256 of the bytes downloaded above.
  expect(
    state.versions.map((v) => v.version),
    `registry versions of ${modelName}`,
  ).toHaveLength(1);
  expect(state.versionsOfSha.map((v) => v.version)).toEqual(state.versions.map((v) => v.version));
  const version = state.versions[0];
  expect(tag(version, VERSION_TAGS.sha256), 'onnx_sha256 tag of the registered version').toBe(
    state.publishedOnnx?.sha256,
  );
  expect(version?.source).toBe(s3Uri(config.s3.modelsBucket, dir.slice(0, -1)));
  expect(version?.status ?? 'READY').toBe('READY');

  // The export's own result names exactly that version and directory.
  expect(result.registry.modelName).toBe(modelName);
  expect(result.registry.version).toBe(version?.version);
  expect(result.registry.sha256).toBe(sha256);
  expect(result.registry.source).toBe(version?.source);
  expect(result.published.source).toBe(version?.source);
  expect(result.published.sha256).toBe(sha256);
  return state;
}
