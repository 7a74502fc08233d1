/**
 * The checkpoint's identity hash: sha256 of the weights file on a worker thread (hashing/), so it runs
 * on the second core while the main thread builds and writes the model; a small file on the calling
 * thread, at once, where starting a thread would cost more than the hash. In the same pass, the fast
 * all-finite test of given F32/F64 byte ranges (finite-scan's `allFinite`, handed to the worker):
 * ranges that fail it are reported by index, and the caller runs the exact scan on them
 * (findNonFinite), so errors are produced in one place. This module only supplies the test and turns
 * the hashing thread's failures into CheckpointErrors.
 */
import { hashFileInline, hashFileInWorker as hashInWorker, WorkerHashError } from '../hashing/worker-sha256';
import type { FiniteCheckRange } from '../hashing/worker-sha256';
import { CheckpointError } from './checkpoint-error';
import { allFinite, allFiniteNative } from './finite-scan';

export type { FiniteCheckRange } from '../hashing/worker-sha256';

export interface HashResult {
  readonly sha256: string;
  /** Indices (into the ranges passed) whose values are not all finite, ascending. */
  readonly nonFinite: readonly number[];
}

/**
 * Weights files smaller than this are hashed on the calling thread, at once: a worker costs ~20–40 ms
 * of start-up (and of CPU), hashing ~0.75 ms per MB. Measured on the 2-core machine, cold emission
 * from a .pth: IQResNet18 (10.6 MB) 93 ms inline against 131 ms with the worker, HeimdallNet (20.6 MB)
 * 142 against 225 ms (minimums of 7).
 */
export const INLINE_HASH_MAX_BYTES = 32 * 1024 * 1024;

/**
 * sha256 (hex) of the file at `path` (`size` bytes: below INLINE_HASH_MAX_BYTES on this thread, at
 * once; otherwise on a worker thread); with `ranges` (sorted, non-overlapping, whole elements), also
 * which of them hold a NaN or Inf.
 */
export async function hashWeightsFile(
  path: string,
  ranges: readonly FiniteCheckRange[] = [],
  size = Infinity,
): Promise<HashResult> {
  try {
    const { sha256, nonFinite } =
      size < INLINE_HASH_MAX_BYTES
        ? hashFileInline(path, { ranges, finiteCheck: allFiniteNative })
        : await hashInWorker(path, { ranges, finiteCheck: allFinite });
    return { sha256, nonFinite };
  } catch (err) {
    if (!(err instanceof WorkerHashError)) throw err;
    const f = err.failure;
    throw f.kind === 'error'
      ? new CheckpointError({
          file: path,
          subject: 'file',
          expected: 'a readable file to hash',
          actual: f.cause.code ?? f.cause.message,
        })
      : new CheckpointError({
          file: path,
          subject: 'file',
          expected: 'sha256 worker to finish',
          actual: `exit code ${f.code}`,
        });
  }
}
