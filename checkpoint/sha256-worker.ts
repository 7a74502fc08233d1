/**
 * sha256 of a file on a worker thread, so the checkpoint's identity hash runs on the second core
 * while the main thread does other work (builds and writes the model). Reads sequentially in fixed
 * chunks (bounded memory). Optionally, in the same pass, a fast all-finite test of given F32/F64
 * byte ranges (x·0 summed is 0 exactly when every x is finite): ranges that fail it are reported by
 * index, and the caller runs the exact scan on them (findNonFinite), so errors are produced in one
 * place. It must not do anything but hash and that test.
 */
import { Worker } from 'node:worker_threads';
import { CheckpointError } from './checkpoint-error';
import { allFinite } from './finite-scan';

/** Read size of the hashing thread: large sequential reads, small next to any model. */
const HASH_CHUNK_BYTES = 8 * 1024 * 1024;

/** A byte range of the file to test for NaN/Inf while hashing: `width` 4 (F32) or 8 (F64). */
export interface FiniteCheckRange {
  readonly offset: number;
  readonly length: number;
  readonly width: 4 | 8;
}

export interface HashResult {
  readonly sha256: string;
  /** Indices (into the ranges passed) whose values are not all finite, ascending. */
  readonly nonFinite: readonly number[];
}

// Plain JS evaluated in the worker, so it works from TypeScript sources (tests) and compiled dist alike;
// the finite test is finite-scan's own function, its compiled source pasted in (it closes over nothing).
// Chunks are cut at range boundaries, so every range is read into the (8-byte aligned) buffer's start.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { path, chunk, ranges } = workerData;
${allFinite.toString()}
const fd = fs.openSync(path, 'r');
try {
  const buf = Buffer.allocUnsafeSlow(chunk);
  const hash = createHash('sha256');
  const bad = [];
  let r = 0;
  for (let pos = 0, n; ; pos += n) {
    while (r < ranges.length && ranges[r].offset + ranges[r].length <= pos) r++;
    const range = ranges[r];
    let want = chunk;
    if (range !== undefined) want = pos < range.offset ? Math.min(chunk, range.offset - pos) : Math.min(chunk, range.offset + range.length - pos);
    n = 0;
    for (let k; n < want && (k = fs.readSync(fd, buf, n, want - n, pos + n)) > 0;) n += k;
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    if (range !== undefined && pos >= range.offset && (bad.length === 0 || bad[bad.length - 1] !== r)) {
      const view = range.width === 4 ? new Float32Array(buf.buffer, buf.byteOffset, n >> 2) : new Float64Array(buf.buffer, buf.byteOffset, n >> 3);
      if (!allFinite(view)) bad.push(r);
    }
  }
  parentPort.postMessage({ sha256: hash.digest('hex'), nonFinite: bad });
} finally {
  fs.closeSync(fd);
}
`;

/**
 * sha256 (hex) of the file at `path`, on a worker thread; with `ranges` (sorted, non-overlapping, whole
 * elements), also which of them hold a NaN or Inf.
 */
export function hashFileInWorker(path: string, ranges: readonly FiniteCheckRange[] = []): Promise<HashResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, chunk: HASH_CHUNK_BYTES, ranges } });
    let result: HashResult | undefined;
    worker.once('message', (r: HashResult) => {
      result = r;
    });
    worker.once('error', (err: NodeJS.ErrnoException) => {
      reject(new CheckpointError({ file: path, subject: 'file', expected: 'a readable file to hash', actual: err.code ?? err.message }));
    });
    worker.once('exit', (code) => {
      if (result !== undefined) resolve(result);
      else reject(new CheckpointError({ file: path, subject: 'file', expected: 'sha256 worker to finish', actual: `exit code ${code}` }));
    });
  });
}

export async function sha256FileInWorker(path: string): Promise<string> {
  return (await hashFileInWorker(path)).sha256;
}
