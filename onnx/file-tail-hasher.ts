/**
 * sha256 of a file while it is being written, on a worker thread that reads back what is complete:
 * the writer only reports how far the file is written (`advance`), and the worker follows it
 * through the page cache. Hashing 786 MB on the writer's thread held back its reads and writes (the
 * event loop was busy hashing when they completed): convnext_large emitted in ~1.6 s with the hash
 * inline, ~0.9 s without it. Reading back costs one more page-cache pass on the other core, and a
 * worker costs ~30 ms to start, so writers use it for large files only (TAIL_HASH_MIN_BYTES).
 *
 * It must not write, and never reads past what the writer reported complete.
 */
import { Worker } from 'node:worker_threads';

/** Files at least this large are hashed by a FileTailHasher; smaller ones inline (start-up would dominate). */
export const TAIL_HASH_MIN_BYTES = 64 * 1024 * 1024;
const READ_CHUNK_BYTES = 8 * 1024 * 1024;

// Plain JS evaluated in the worker, so it runs from TypeScript sources (tests) and dist alike.
// Messages arrive in order: { upTo } extends the readable prefix, { final } asks for the digest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const fd = fs.openSync(workerData.path, 'r');
const buf = Buffer.allocUnsafeSlow(workerData.chunk);
const hash = createHash('sha256');
let pos = 0;
parentPort.on('message', (m) => {
  while (pos < m.upTo) {
    const n = fs.readSync(fd, buf, 0, Math.min(buf.length, m.upTo - pos), pos);
    if (n === 0) throw new Error(workerData.path + ': ends at byte ' + pos + ', but ' + m.upTo + ' were reported written');
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  if (m.final) {
    fs.closeSync(fd);
    parentPort.postMessage({ sha256: hash.digest('hex'), bytes: pos });
  }
});
`;

export class FileTailHasher {
  private readonly result: Promise<{ sha256: string; bytes: number }>;

  private constructor(private readonly worker: Worker, path: string) {
    this.result = new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`${path}: the hashing thread exited (code ${code}) before its digest`)));
    });
    // Until digest() is awaited, a failure is only remembered (and rethrown there).
    this.result.catch(() => undefined);
  }

  /** Starts hashing `path`, which must exist (opened for writing) before this is called. */
  static start(path: string): FileTailHasher {
    return new FileTailHasher(new Worker(WORKER_SOURCE, { eval: true, workerData: { path, chunk: READ_CHUNK_BYTES } }), path);
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
