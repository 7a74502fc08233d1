/**
 * Tensor bytes from wherever a tensor's data lives (memory, a lazy loader, a file range): the one place
 * they are read, whole (async, or sync for small constants and the writer's small tensors) or a chunk
 * at a time (the writer's copy loop). Reads check that the source really holds the declared length.
 *
 * Must not: encode, write, or decide what a valid tensor is (checker.ts).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import type { TensorData } from './ir';
import { OnnxInputError } from './onnx-error';

/** Tensor data that is a byte range of a file. */
export type FileTensorData = Extract<TensorData, { kind: 'file' }>;

/** Reads a tensor's bytes into memory (for small tensors: attributes, constants, tests). */
export async function readTensorData(data: TensorData): Promise<Uint8Array> {
  switch (data.kind) {
    case 'memory':
      return data.bytes;
    case 'lazy': {
      const bytes = await data.load();
      if (bytes.byteLength !== data.length) {
        throw new OnnxInputError(
          'data',
          { subject: 'lazy tensor data', expected: `${data.length} bytes`, actual: `${bytes.byteLength} bytes` },
          `lazy tensor data: loader returned ${bytes.byteLength} bytes, declared ${data.length}`,
        );
      }
      return bytes;
    }
    case 'file': {
      const fh = await open(data.path, 'r');
      try {
        const out = new Uint8Array(data.length);
        let done = 0;
        while (done < data.length) {
          const { bytesRead } = await fh.read(out, done, data.length - done, data.offset + done);
          if (bytesRead === 0) throw fileEndsEarly(data, data.offset + done);
          done += bytesRead;
        }
        return out;
      } finally {
        await fh.close();
      }
    }
  }
}

/** A file-backed tensor whose range runs past its file's end; `subject` names the tensor when known. */
export function fileEndsEarly(data: FileTensorData, endsAt: number, subject?: string): OnnxInputError {
  const end = data.offset + data.length;
  const range = `range ${data.offset}+${data.length}`;
  return new OnnxInputError(
    'data',
    {
      file: data.path,
      subject: subject ?? 'tensor range',
      expected: `${data.path} holds bytes ${data.offset} to ${end}`,
      actual: `it ends at byte ${endsAt}`,
    },
    subject === undefined
      ? `${data.path}: file ends before byte ${end} (tensor ${range})`
      : `${subject}: ${data.path} ends before byte ${end} (${range})`,
  );
}

/**
 * Reads the next chunk of a file-backed tensor: up to `buffer.length` bytes from `at` bytes into the
 * range, into `buffer`'s start; resolves with how many were read (0: the file ends early).
 */
export async function readTensorChunk(
  source: FileHandle,
  data: FileTensorData,
  at: number,
  buffer: Uint8Array,
): Promise<number> {
  const want = Math.min(buffer.length, data.length - at);
  const { bytesRead } = await source.read(buffer, 0, want, data.offset + at);
  return bytesRead;
}

/**
 * Reads a whole (small) file-backed tensor into `buffer`'s start, synchronously; returns how many bytes
 * were read (fewer than its length: the file ends early).
 */
export function readTensorChunkSync(source: FileHandle, data: FileTensorData, buffer: Uint8Array): number {
  let done = 0;
  while (done < data.length) {
    const n = readSync(source.fd, buffer, done, data.length - done, data.offset + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * A small tensor's bytes, synchronously (shape inference of constants): in-memory data as is, a file
 * range of at most `maxBytes`; undefined for anything else, or when the file can't give all the bytes.
 */
export function readSmallTensorSync(data: TensorData, maxBytes: number): Uint8Array | undefined {
  if (data.kind === 'memory') return data.bytes;
  if (data.kind !== 'file' || data.length > maxBytes) return undefined;
  const fd = openSync(data.path, 'r');
  try {
    const out = new Uint8Array(data.length);
    return readSync(fd, out, 0, data.length, data.offset) === data.length ? out : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}
