/**
 * The checkpoint's identity hash: sha256 of the weights file on a worker thread (hashing/), so it runs
 * on the second core while the main thread builds and writes the model. In the same pass, the fast
 * all-finite test of given F32/F64 byte ranges (finite-scan's `allFinite`, handed to the worker):
 * ranges that fail it are reported by index, and the caller runs the exact scan on them
 * (findNonFinite), so errors are produced in one place. This module only supplies the test and turns
 * the hashing thread's failures into CheckpointErrors.
 */
import { hashFileInWorker as hashInWorker, WorkerHashError } from '../hashing/worker-sha256';
import type { FiniteCheckRange } from '../hashing/worker-sha256';
import { CheckpointError } from './checkpoint-error';
import { allFinite } from './finite-scan';

export type { FiniteCheckRange } from '../hashing/worker-sha256';

export interface HashResult {
  readonly sha256: string;
  /** Indices (into the ranges passed) whose values are not all finite, ascending. */
  readonly nonFinite: readonly number[];
}

/**
 * sha256 (hex) of the file at `path`, on a worker thread; with `ranges` (sorted, non-overlapping, whole
 * elements), also which of them hold a NaN or Inf.
 */
export async function hashFileInWorker(path: string, ranges: readonly FiniteCheckRange[] = []): Promise<HashResult> {
  try {
    const { sha256, nonFinite } = await hashInWorker(path, { ranges, finiteCheck: allFinite });
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
