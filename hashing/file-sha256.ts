/**
 * sha256 of a whole file, streamed in large chunks on the calling thread (constant memory), and of
 * bytes already in memory. The one file hasher for code that waits for the digest; a digest that should
 * not hold up the event loop comes from worker-sha256.ts instead.
 *
 * Must not import any other room of the project: everything that hashes files depends on this.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Read size: big enough that syscalls don't matter, small next to any model or checkpoint. */
const READ_CHUNK_BYTES = 8 * 1024 * 1024;

/** What a file hashed to: the hex sha256 and how many bytes were read. */
export interface FileSha256 {
  readonly sha256: string;
  readonly bytes: number;
}

/** sha256 (hex) and size of the file at `path`, streamed. */
export async function sha256File(path: string): Promise<FileSha256> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK_BYTES })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** sha256 (hex) of bytes in memory. */
export function sha256Bytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
