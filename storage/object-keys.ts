/**
 * Object keys of the content-addressed layout (DESIGN.md, "Object store layout") and validation of
 * everything that becomes part of a key, by the contract's rules (common/export-contract.ts) and
 * with storage's own error. A model name or hash that could escape its prefix (`../x`, slashes,
 * control characters) is refused here, before any request is made. Pure functions: no I/O.
 */
import { STORAGE_DEFAULTS } from '../common/constants';
import { followsNameRule, MODEL_NAME_RULE, S3_URI_EXPECTED, SHA256_RULE, splitS3Uri } from '../common/export-contract';
import { StorageInputError } from './storage-error';

export function validateSha256(value: string, field = 'sha256'): string {
  if (!followsNameRule(value, SHA256_RULE)) throw new StorageInputError(field, String(value), SHA256_RULE.expected);
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

/** A report about the staged graph `sha256` (its parity diagnosis), beside it: `staging/<sha256>/<file>`. */
export function stagingReportKey(sha256: string, file: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(file))
    throw new StorageInputError('file', file, 'a plain file name (letters, digits, ., _, -)');
  return `${STORAGE_DEFAULTS.stagingPrefix}${validateSha256(sha256)}/${file}`;
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
  const parts = splitS3Uri(uri);
  if (!parts) throw new StorageInputError(field, String(uri), S3_URI_EXPECTED);
  return parts;
}
