/**
 * Multipart planning: how a file of a given size is cut into parts that S3 accepts (every part but
 * the last at least 5 MiB, at most 10,000 parts, each at most 5 GiB). Pure arithmetic, no I/O.
 */
import { StorageInputError } from './storage-error';

/** S3's limits (AWS "Amazon S3 multipart upload limits"; MinIO enforces the same). */
export const S3_LIMITS = {
  minPartSize: 5 * 1024 * 1024,
  maxPartSize: 5 * 1024 * 1024 * 1024,
  maxParts: 10_000,
  maxObjectSize: 5 * 1024 ** 4,
  /** Largest object a single CopyObject request may copy. */
  maxSingleCopySize: 5 * 1024 * 1024 * 1024,
} as const;

export interface PlannedPart {
  /** 1-based, as S3 numbers parts. */
  number: number;
  offset: number;
  size: number;
}

/**
 * The part size to use for `totalSize` bytes: the preferred size, raised (in whole MiB) when the
 * file would otherwise need more than 10,000 parts.
 */
export function choosePartSize(totalSize: number, preferred: number): number {
  if (!Number.isSafeInteger(totalSize) || totalSize < 0) {
    throw new StorageInputError('size', String(totalSize), 'a non-negative integer byte count');
  }
  if (totalSize > S3_LIMITS.maxObjectSize) {
    throw new StorageInputError(
      'size',
      String(totalSize),
      `at most ${S3_LIMITS.maxObjectSize} bytes (S3's object size limit)`,
    );
  }
  if (!Number.isSafeInteger(preferred) || preferred < S3_LIMITS.minPartSize || preferred > S3_LIMITS.maxPartSize) {
    throw new StorageInputError(
      'partSize',
      String(preferred),
      `an integer between ${S3_LIMITS.minPartSize} and ${S3_LIMITS.maxPartSize}`,
    );
  }
  const mib = 1024 * 1024;
  const needed = Math.ceil(totalSize / S3_LIMITS.maxParts / mib) * mib;
  return Math.max(preferred, needed);
}

/** Cuts `totalSize` bytes into parts of `partSize` (the last one shorter). An empty file is one empty part. */
export function planParts(totalSize: number, partSize: number): PlannedPart[] {
  if (!Number.isSafeInteger(partSize) || partSize <= 0) {
    throw new StorageInputError('partSize', String(partSize), 'a positive integer');
  }
  const count = Math.max(1, Math.ceil(totalSize / partSize));
  if (count > S3_LIMITS.maxParts) {
    throw new StorageInputError(
      'partSize',
      String(partSize),
      `a size that cuts ${totalSize} bytes into at most ${S3_LIMITS.maxParts} parts`,
    );
  }
  const parts: PlannedPart[] = [];
  for (let i = 0; i < count; i++) {
    const offset = i * partSize;
    parts.push({ number: i + 1, offset, size: Math.min(partSize, totalSize - offset) });
  }
  return parts;
}
