/**
 * Byte ranges of files: what ONNX external data and our IR's `file` tensors point at, and the
 * positioned reads every reader in checkpoint/ shares. A short read is refused as truncation, naming
 * the file and what was being read. It must never read a whole file into memory.
 */
import { open, stat } from 'node:fs/promises';
import { CheckpointError } from './checkpoint-error';

/** A byte range of a file. */
export interface FileRange {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

export type FileHandle = Awaited<ReturnType<typeof open>>;

/** Reads a byte range of a file into a fresh, 8-byte aligned buffer (positioned read, no whole-file copy). */
export async function readFileRange(range: FileRange): Promise<Buffer> {
  const buffer = Buffer.allocUnsafeSlow(range.length);
  const handle = await open(range.path, 'r');
  try {
    await readExactly(
      handle,
      buffer,
      range.offset,
      range.path,
      `bytes [${range.offset}, ${range.offset + range.length})`,
    );
  } finally {
    await handle.close();
  }
  return buffer;
}

/** Fills `buffer` from `position`; a file that ends first is refused as truncated, naming `subject`. */
export async function readExactly(
  handle: FileHandle,
  buffer: Buffer,
  position: number,
  path: string,
  subject: string,
): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) {
      throw new CheckpointError(
        { file: path, subject, expected: `${buffer.length} bytes at offset ${position}`, actual: `${done} bytes` },
        'file is truncated',
      );
    }
    done += bytesRead;
  }
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
