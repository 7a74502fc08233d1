/**
 * Byte ranges of files: what ONNX external data and our IR's `file` tensors point at, and the
 * positioned reads every reader in checkpoint/ shares. A short read is refused as truncation, naming
 * the file and what was being read. Small ranges are read synchronously (SYNC_READ_MAX_BYTES): a
 * thread-pool round trip per weight cost more than the copy from the page cache (an emission makes
 * hundreds of these reads). It must never read a whole file into memory.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { CheckpointError } from './checkpoint-error';

/** A byte range of a file. */
export interface FileRange {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

export type FileHandle = Awaited<ReturnType<typeof open>>;

/**
 * Ranges up to this size are read synchronously: at most ~0.3 ms of the event loop, against a
 * thread-pool round trip per read (and per open and close) otherwise.
 */
export const SYNC_READ_MAX_BYTES = 1024 * 1024;

/** Reads a byte range of a file into a fresh, 8-byte aligned buffer (positioned read, no whole-file copy). */
export async function readFileRange(range: FileRange): Promise<Buffer> {
  const buffer = Buffer.allocUnsafeSlow(range.length);
  if (range.length <= SYNC_READ_MAX_BYTES) {
    const fd = openSync(range.path, 'r');
    try {
      readExactlySync(fd, buffer, range.offset, range.path, rangeSubject(range));
    } finally {
      closeSync(fd);
    }
    return buffer;
  }
  const handle = await open(range.path, 'r');
  try {
    await readExactly(handle, buffer, range.offset, range.path, rangeSubject(range));
  } finally {
    await handle.close();
  }
  return buffer;
}

const rangeSubject = (range: FileRange): string => `bytes [${range.offset}, ${range.offset + range.length})`;

/**
 * Fills `buffer` from `position` (synchronously when it is at most SYNC_READ_MAX_BYTES); a file that
 * ends first is refused as truncated, naming `subject`.
 */
export async function readExactly(
  handle: FileHandle,
  buffer: Buffer,
  position: number,
  path: string,
  subject: string,
): Promise<void> {
  if (buffer.length <= SYNC_READ_MAX_BYTES) return readExactlySync(handle.fd, buffer, position, path, subject);
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw truncated(buffer, position, done, path, subject);
    done += bytesRead;
  }
}

/** readExactly on a file descriptor, synchronously. */
export function readExactlySync(fd: number, buffer: Buffer, position: number, path: string, subject: string): void {
  let done = 0;
  while (done < buffer.length) {
    const bytesRead = readSync(fd, buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw truncated(buffer, position, done, path, subject);
    done += bytesRead;
  }
}

function truncated(buffer: Buffer, position: number, done: number, path: string, subject: string): CheckpointError {
  return new CheckpointError(
    { file: path, subject, expected: `${buffer.length} bytes at offset ${position}`, actual: `${done} bytes` },
    'file is truncated',
  );
}

/** The file's size, or a refusal naming it (missing, unreadable). */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    throw new CheckpointError({
      file: path,
      subject: 'file',
      expected: 'a readable file',
      actual: (err as NodeJS.ErrnoException).code ?? String(err),
    });
  }
}
