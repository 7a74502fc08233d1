/** hashing/: sha256 of files, streamed on the calling thread or on a worker. Imports no other room. */
export { sha256Bytes, sha256File } from './file-sha256';
export type { FileSha256 } from './file-sha256';
export { FileTailHasher, hashFileInWorker, TAIL_HASH_MIN_BYTES, WorkerHashError } from './worker-sha256';
export type { FiniteCheck, FiniteCheckRange, WorkerHashResult } from './worker-sha256';
