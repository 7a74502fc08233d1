/**
 * sha256 of a file on a worker thread, one implementation for two uses:
 * - `hashFileInWorker`: a complete file, read to its end, so the hash runs on another core while the
 *   caller does other work. Optionally, in the same pass, a fast all-finite test of given F32/F64 byte
 *   ranges, with the test function supplied by the caller (it is pasted into the worker, so it must
 *   close over nothing); ranges that fail it are reported by index for the caller's exact scan.
 * - `FileTailHasher`: a file while it is being written. The writer reports how far the file is written
 *   (`advance`) and the worker follows it through the page cache. Hashing 786 MB on the writer's
 *   thread held back its reads and writes (the event loop was busy hashing when they completed):
 *   convnext_large emitted in ~1.6 s with the hash inline, ~0.9 s without it. Reading back costs one
 *   more page-cache pass on the other core, and a worker costs ~30 ms to start, so writers use it for
 *   large files only (TAIL_HASH_MIN_BYTES).
 *
 * It must not write, never reads past what a writer reported complete, and imports no other room.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** The fs module, passed into the shared pass (its source runs in the worker too). */
type FsModule = typeof fs;

/** Files at least this large are hashed by a FileTailHasher; smaller ones inline (start-up would dominate). */
export const TAIL_HASH_MIN_BYTES = 64 * 1024 * 1024;
/** Read size of the hashing thread: large sequential reads, small next to any model. */
const READ_CHUNK_BYTES = 8 * 1024 * 1024;
/** Read size on the calling thread: one buffer reused, so no fresh pages to fault in (cache-sized). */
const INLINE_READ_CHUNK_BYTES = 1024 * 1024;

/** A byte range of the file to test for NaN/Inf while hashing: `width` 4 (F32) or 8 (F64). */
export interface FiniteCheckRange {
  readonly offset: number;
  readonly length: number;
  readonly width: 4 | 8;
}

/** True when every value is finite. Its source runs in the worker: it may reference nothing outside itself. */
export type FiniteCheck = (values: Float32Array | Float64Array) => boolean;

export interface WorkerHashResult {
  readonly sha256: string;
  readonly bytes: number;
  /** Indices (into the ranges passed) whose values are not all finite, ascending. */
  readonly nonFinite: readonly number[];
}

/**
 * The hashing thread failed (`error`: what it threw, whose message is kept as is) or ended without a
 * digest (`exit`: its exit code).
 */
export class WorkerHashError extends Error {
  constructor(
    readonly path: string,
    readonly failure:
      | { readonly kind: 'error'; readonly cause: NodeJS.ErrnoException }
      | { readonly kind: 'exit'; readonly code: number },
  ) {
    super(
      failure.kind === 'error'
        ? failure.cause.message
        : `${path}: the hashing thread exited (code ${failure.code}) before its digest`,
    );
    this.name = 'WorkerHashError';
  }
}

/** The pass over a file's bytes: `hashUpTo(limit)` hashes [pos, limit) (Infinity: to the end of the file). */
interface RangeHasher {
  hashUpTo(limit: number): void;
  /** Bytes hashed so far. */
  readonly pos: number;
  /** Indices of the ranges that failed the finite check so far, ascending. */
  readonly bad: number[];
}

/**
 * The hashing pass both ways share, over an open file descriptor: reads in chunks cut at range
 * boundaries, so every range is read into the (8-byte aligned) buffer's start and tested there. Its
 * source is pasted into the worker (workerSource), so it references nothing outside itself: the fs
 * module, the hash and the finite test come in as arguments.
 */
function rangeHasher(
  fs: FsModule,
  hash: Hash,
  fd: number,
  path: string,
  chunk: number,
  ranges: readonly FiniteCheckRange[],
  allFinite: FiniteCheck,
): RangeHasher {
  const buf = Buffer.allocUnsafeSlow(chunk);
  const bad: number[] = [];
  let pos = 0;
  let r = 0;
  return {
    get pos() {
      return pos;
    },
    bad,
    hashUpTo(limit) {
      while (pos < limit) {
        while (r < ranges.length && ranges[r]!.offset + ranges[r]!.length <= pos) r++;
        const range = ranges[r];
        let want = Math.min(chunk, limit - pos);
        if (range !== undefined) {
          want = Math.min(want, pos < range.offset ? range.offset - pos : range.offset + range.length - pos);
        }
        let n = 0;
        for (let k; n < want && (k = fs.readSync(fd, buf, n, want - n, pos + n)) > 0;) n += k;
        if (n === 0) {
          if (limit === Infinity) return;
          throw new Error(`${path}: ends at byte ${pos}, but ${limit} were reported written`);
        }
        hash.update(buf.subarray(0, n));
        if (range !== undefined && pos >= range.offset && bad[bad.length - 1] !== r) {
          const view =
            range.width === 4
              ? new Float32Array(buf.buffer, buf.byteOffset, n >> 2)
              : new Float64Array(buf.buffer, buf.byteOffset, n >> 3);
          if (!allFinite(view)) bad.push(r);
        }
        pos += n;
      }
    },
  };
}

/**
 * Plain JS evaluated in the worker, so it runs from TypeScript sources (tests) and dist alike. Follow
 * mode: messages arrive in order, { upTo } extends the readable prefix, { final } asks for the digest.
 */
function workerSource(finiteCheck: FiniteCheck | undefined): string {
  return `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { path, chunk, ranges, follow } = workerData;
const allFinite = ${finiteCheck === undefined ? '() => true' : finiteCheck.toString()};
const rangeHasher = ${rangeHasher.toString()};
const fd = fs.openSync(path, 'r');
const hash = createHash('sha256');
const pass = rangeHasher(fs, hash, fd, path, chunk, ranges, allFinite);
function finish() {
  fs.closeSync(fd);
  parentPort.postMessage({ sha256: hash.digest('hex'), bytes: pass.pos, nonFinite: pass.bad });
}
if (follow) {
  parentPort.on('message', (m) => {
    pass.hashUpTo(m.upTo);
    if (m.final) finish();
  });
} else {
  try {
    pass.hashUpTo(Infinity);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  finish();
}
`;
}

function startWorker(
  path: string,
  follow: boolean,
  ranges: readonly FiniteCheckRange[],
  finiteCheck?: FiniteCheck,
): Worker {
  return new Worker(workerSource(finiteCheck), {
    eval: true,
    workerData: { path, chunk: READ_CHUNK_BYTES, ranges, follow },
  });
}

/** Settles with the worker's one message, or a WorkerHashError if it fails or exits without one. */
function workerResult(worker: Worker, path: string): Promise<WorkerHashResult> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', (cause: NodeJS.ErrnoException) => reject(new WorkerHashError(path, { kind: 'error', cause })));
    worker.once('exit', (code) => reject(new WorkerHashError(path, { kind: 'exit', code })));
  });
}

/**
 * sha256 (hex) of the whole file at `path`, on a worker thread; with `ranges` (sorted, non-overlapping,
 * whole elements) and `finiteCheck`, also which of the ranges fail the check.
 */
export function hashFileInWorker(
  path: string,
  options: { readonly ranges?: readonly FiniteCheckRange[]; readonly finiteCheck?: FiniteCheck } = {},
): Promise<WorkerHashResult> {
  const ranges = options.finiteCheck === undefined ? [] : (options.ranges ?? []);
  return workerResult(startWorker(path, false, ranges, options.finiteCheck), path);
}

/**
 * As hashFileInWorker, on the calling thread, synchronously: for small files, where a worker's
 * start-up (~20–30 ms) costs more than the hash (~0.6 ms per MB). A failure to read is the same
 * WorkerHashError, with the error it threw.
 */
export function hashFileInline(
  path: string,
  options: { readonly ranges?: readonly FiniteCheckRange[]; readonly finiteCheck?: FiniteCheck } = {},
): WorkerHashResult {
  const ranges = options.finiteCheck === undefined ? [] : (options.ranges ?? []);
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    throw new WorkerHashError(path, { kind: 'error', cause: err as NodeJS.ErrnoException });
  }
  try {
    const hash = createHash('sha256');
    const pass = rangeHasher(fs, hash, fd, path, INLINE_READ_CHUNK_BYTES, ranges, options.finiteCheck ?? (() => true));
    pass.hashUpTo(Infinity);
    return { sha256: hash.digest('hex'), bytes: pass.pos, nonFinite: pass.bad };
  } catch (err) {
    throw new WorkerHashError(path, { kind: 'error', cause: err as NodeJS.ErrnoException });
  } finally {
    fs.closeSync(fd);
  }
}

/** Hashes a file while it is written, following the writer's `advance` reports. */
export class FileTailHasher {
  private readonly result: Promise<WorkerHashResult>;

  private constructor(
    private readonly worker: Worker,
    path: string,
  ) {
    this.result = workerResult(worker, path);
    // Until digest() is awaited, a failure is only remembered (and rethrown there).
    this.result.catch(() => undefined);
  }

  /** Starts hashing `path`, which must exist (opened for writing) before this is called. */
  static start(path: string): FileTailHasher {
    return new FileTailHasher(startWorker(path, true, []), path);
  }

  /** The first `upTo` bytes of the file are written and will not change. */
  advance(upTo: number): void {
    this.worker.postMessage({ upTo });
  }

  /** sha256 (hex) of the first `total` bytes, once the worker has read them; the worker then exits. */
  async digest(total: number): Promise<string> {
    this.worker.postMessage({ upTo: total, final: true });
    const { sha256, bytes } = await this.result;
    await this.worker.terminate();
    if (bytes !== total) throw new Error(`internal: hashed ${bytes} bytes of ${total}`);
    return sha256;
  }

  async cancel(): Promise<void> {
    await this.worker.terminate();
  }
}
