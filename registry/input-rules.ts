/**
 * The registry's checks of what it is given against the contract's rules (common/export-contract.ts):
 * a model name, a sha256, an S3 URI. Each refusal is a RegistryInputError naming the field, so
 * registry/ needs nothing of storage/'s validators. Pure functions: no I/O.
 */
import { followsNameRule, MODEL_NAME_RULE, S3_URI_EXPECTED, SHA256_RULE, splitS3Uri } from '../common/export-contract';
import { RegistryInputError } from './registry-error';

/** A model name: it names the registered model and is a segment of its model directory's key. */
export function requireModelName(value: string, field = 'modelName'): string {
  if (!followsNameRule(value, MODEL_NAME_RULE))
    throw new RegistryInputError(field, String(value), `${MODEL_NAME_RULE.expected}; it becomes an object key segment`);
  return value;
}

export function requireSha256(value: string, field = 'sha256'): string {
  if (!followsNameRule(value, SHA256_RULE)) throw new RegistryInputError(field, String(value), SHA256_RULE.expected);
  return value;
}

/** `s3://bucket/key` split into its parts; anything else is refused. */
export function requireS3Uri(value: string, field = 'uri'): { bucket: string; key: string } {
  const parts = splitS3Uri(value);
  if (!parts) throw new RegistryInputError(field, String(value), S3_URI_EXPECTED);
  return parts;
}
