/**
 * Object keys of the content-addressed layout (DESIGN.md, "Object store layout") and validation of
 * everything that becomes part of a key. A model name or hash that could escape its prefix
 * (`../x`, slashes, control characters) is refused here, before any request is made.
 * Pure functions: no I/O.
 */
import { STORAGE_DEFAULTS } from '../common/constants';
import { followsNameRule, MODEL_NAME_RULE } from '../common/export-contract';
import { StorageInputError } from './storage-error';

const SHA256_RE = /^[0-9a-f]{64}$/;

export function validateSha256(value: string, field = 'sha256'): string {
  if (typeof value !== 'string' || !SHA256_RE.test(value)) {
    throw new StorageInputError(field, String(value), '64 lowercase hex characters');
  }
  return value;
}

export function validateModelName(value: string, field = 'modelName'): string {
  if (!followsNameRule(value, MODEL_NAME_RULE)) {
    throw new StorageInputError(field, String(value), `${MODEL_NAME_RULE.expected}; it becomes an object key segment`);
  }
  return value;
}

export function stagingKey(sha256: string): string {
  return `${STORAGE_DEFAULTS.stagingPrefix}${validateSha256(sha256)}/model.onnx`;
}

/** Prefix (ending in `/`) of the MLflow model directory of `modelName` at `sha256`. */
export function modelDirectoryPrefix(modelName: string, sha256: string): string {
  return `${STORAGE_DEFAULTS.modelsPrefix}${validateModelName(modelName)}/${validateSha256(sha256)}/`;
}

export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** Splits `s3://bucket/key` into its parts (key '' for `s3://bucket/`); refuses anything else. */
export function parseS3Uri(uri: string, field = 'uri'): { bucket: string; key: string } {
  const m = typeof uri === 'string' ? /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri) : null;
  if (!m || !m[1] || /[\u0000-\u001f]/.test(m[2] ?? ''))
    throw new StorageInputError(field, String(uri), 's3://<bucket>/<key>');
  return { bucket: m[1], key: m[2] ?? '' };
}
