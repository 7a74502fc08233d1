/**
 * The resumable state of one multipart upload: the upload id and every finished part (number,
 * ETag, size, sha256 of its bytes). The uploader reports it after each part (the activity puts it
 * in heartbeat details) and accepts it back on a retry. This module only checks that a checkpoint
 * fits the upload being attempted; it makes no requests. It is plain JSON, small (≈120 bytes a
 * part), and holds no secret.
 */
import type { PlannedPart } from './part-plan';

export const UPLOAD_CHECKPOINT_VERSION = 1;

export interface FinishedPart {
  number: number;
  etag: string;
  size: number;
  /** sha256 of the part's bytes, hex: the payload hash the server verified when it accepted the part. */
  sha256: string;
}

export interface UploadCheckpoint {
  version: typeof UPLOAD_CHECKPOINT_VERSION;
  bucket: string;
  key: string;
  /** sha256 of the whole object being uploaded. */
  sha256: string;
  size: number;
  partSize: number;
  uploadId: string;
  /** Ascending by part number. */
  parts: FinishedPart[];
}

/** What the current attempt is about to upload; a checkpoint must describe the same thing. */
export interface UploadTarget {
  bucket: string;
  key: string;
  sha256: string;
  size: number;
  partSize: number;
}

export type CheckpointVerdict =
  | { kind: 'none' }
  /** Not a checkpoint at all (wrong shape or version): ignore it. */
  | { kind: 'malformed'; reason: string }
  /** A well-formed checkpoint of a different upload (other key, hash, size or part size): abort its upload id. */
  | { kind: 'foreign'; reason: string; checkpoint: UploadCheckpoint }
  | { kind: 'resumable'; checkpoint: UploadCheckpoint };

const HEX64 = /^[0-9a-f]{64}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the shape of `value` and whether it continues `target` given the planned parts. */
export function judgeCheckpoint(value: unknown, target: UploadTarget, plan: readonly PlannedPart[]): CheckpointVerdict {
  if (value === undefined || value === null) return { kind: 'none' };
  if (!isObject(value)) return { kind: 'malformed', reason: `checkpoint: expected an object, got ${typeof value}` };
  if (value.version !== UPLOAD_CHECKPOINT_VERSION) {
    return {
      kind: 'malformed',
      reason: `checkpoint.version: expected ${UPLOAD_CHECKPOINT_VERSION}, got ${JSON.stringify(value.version)}`,
    };
  }
  for (const field of ['bucket', 'key', 'sha256', 'uploadId'] as const) {
    if (typeof value[field] !== 'string' || !value[field]) {
      return {
        kind: 'malformed',
        reason: `checkpoint.${field}: expected a non-empty string, got ${JSON.stringify(value[field])}`,
      };
    }
  }
  for (const field of ['size', 'partSize'] as const) {
    if (!Number.isSafeInteger(value[field]) || (value[field] as number) < 0) {
      return {
        kind: 'malformed',
        reason: `checkpoint.${field}: expected a non-negative integer, got ${JSON.stringify(value[field])}`,
      };
    }
  }
  if (!Array.isArray(value.parts)) return { kind: 'malformed', reason: 'checkpoint.parts: expected an array' };
  const parts: FinishedPart[] = [];
  for (const [i, p] of value.parts.entries()) {
    if (
      !isObject(p) ||
      !Number.isSafeInteger(p.number) ||
      typeof p.etag !== 'string' ||
      !p.etag ||
      !Number.isSafeInteger(p.size) ||
      typeof p.sha256 !== 'string' ||
      !HEX64.test(p.sha256)
    ) {
      return {
        kind: 'malformed',
        reason: `checkpoint.parts[${i}]: expected {number, etag, size, sha256 (64 hex)}, got ${JSON.stringify(p)}`,
      };
    }
    parts.push({ number: p.number as number, etag: p.etag, size: p.size as number, sha256: p.sha256 });
  }
  const checkpoint: UploadCheckpoint = {
    version: UPLOAD_CHECKPOINT_VERSION,
    bucket: value.bucket as string,
    key: value.key as string,
    sha256: value.sha256 as string,
    size: value.size as number,
    partSize: value.partSize as number,
    uploadId: value.uploadId as string,
    parts: parts.sort((a, b) => a.number - b.number),
  };
  for (const field of ['bucket', 'key', 'sha256', 'size', 'partSize'] as const) {
    if (checkpoint[field] !== target[field]) {
      return {
        kind: 'foreign',
        reason: `checkpoint.${field}: expected ${JSON.stringify(target[field])} (this upload), got ${JSON.stringify(checkpoint[field])}`,
        checkpoint,
      };
    }
  }
  const seen = new Set<number>();
  for (const part of checkpoint.parts) {
    const planned = plan[part.number - 1];
    if (!planned || planned.size !== part.size || seen.has(part.number)) {
      return {
        kind: 'foreign',
        reason: `checkpoint part ${part.number}: expected ${planned ? `size ${planned.size}` : `a part number in 1..${plan.length}`} once, got size ${part.size}`,
        checkpoint,
      };
    }
    seen.add(part.number);
  }
  return { kind: 'resumable', checkpoint };
}
