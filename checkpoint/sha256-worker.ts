/**
 * sha256 of a file on a worker thread, so the checkpoint's identity hash runs on the second core
 * while the main thread scans the weights for NaN/Inf. Reads sequentially in fixed chunks (bounded
 * memory). It must not do anything but hash.
 */
import { Worker } from 'node:worker_threads';
import { CheckpointError } from './checkpoint-error';

/** Read size of the hashing thread: large sequential reads, small next to any model. */
const HASH_CHUNK_BYTES = 8 * 1024 * 1024;

// Plain JS evaluated in the worker, so it works from TypeScript sources (tests) and compiled dist alike.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const fd = fs.openSync(workerData.path, 'r');
try {
  const buf = Buffer.allocUnsafe(workerData.chunk);
  const hash = createHash('sha256');
  for (let pos = 0, n; (n = fs.readSync(fd, buf, 0, buf.length, pos)) > 0; pos += n) hash.update(buf.subarray(0, n));
  parentPort.postMessage(hash.digest('hex'));
} finally {
  fs.closeSync(fd);
}
`;

export function sha256FileInWorker(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, chunk: HASH_CHUNK_BYTES } });
    let result: string | undefined;
    worker.once('message', (hex: string) => {
      result = hex;
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
