/**
 * An open safetensors file: validated header, tensor lookup, and tensor bytes by positioned reads.
 * Tensors are handed out as file ranges (zero copy: the serializer streams them) or read one at a
 * time when their values are needed. It must never read the whole file into memory.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { CheckpointError } from './checkpoint-error';
import { findNonFinite } from './finite-scan';
import { SAFETENSORS_DTYPES } from './safetensors-dtypes';
import {
  HEADER_LENGTH_BYTES,
  parseHeader,
  parseHeaderLength,
  type SafetensorsHeader,
  type TensorEntry,
} from './safetensors-header';

/** A byte range of a file: what ONNX external data and our IR's `file` tensors point at. */
export interface FileRange {
  readonly path: string;
  readonly offset: number;
  readonly length: number;
}

/** Chunk of the streaming scan: large enough for sequential throughput, small next to any model. */
const SCAN_CHUNK_BYTES = 16 * 1024 * 1024;

export interface ScanOptions {
  /** Refuse NaN/Inf in float tensors (names the first offending tensor and element). */
  readonly finite?: boolean;
  /** Compute the file's sha256 in the same pass. */
  readonly sha256?: boolean;
  /** Scan only these tensors (still in file order); not with `sha256`. */
  readonly only?: ReadonlySet<string>;
}

export class SafetensorsFile {
  private readonly byName: ReadonlyMap<string, TensorEntry>;

  private constructor(
    readonly path: string,
    readonly size: number,
    readonly header: SafetensorsHeader,
  ) {
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  /** Opens and validates `path`; reads the header only. */
  static async open(path: string): Promise<SafetensorsFile> {
    const size = await fileSize(path);
    const handle = await open(path, 'r');
    try {
      const prefix = Buffer.alloc(HEADER_LENGTH_BYTES);
      await readExactly(handle, prefix, 0, path, 'header length');
      const length = parseHeaderLength(prefix, path, size);
      const json = Buffer.alloc(length);
      await readExactly(handle, json, HEADER_LENGTH_BYTES, path, 'header');
      return new SafetensorsFile(path, size, parseHeader(json, path, size));
    } finally {
      await handle.close();
    }
  }

  get tensors(): readonly TensorEntry[] {
    return this.header.tensors;
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.header.metadata;
  }

  get(name: string): TensorEntry | undefined {
    return this.byName.get(name);
  }

  /** The tensor, or an error naming it and this file. */
  require(name: string): TensorEntry {
    const entry = this.byName.get(name);
    if (!entry)
      throw new CheckpointError({
        file: this.path,
        subject: `tensor '${name}'`,
        expected: 'present',
        actual: 'missing',
      });
    return entry;
  }

  /** The tensor's bytes as a file range: nothing is read. */
  range(name: string): FileRange {
    const t = this.require(name);
    return { path: this.path, offset: t.offset, length: t.length };
  }

  /** Reads one tensor's bytes (a fresh, 8-byte aligned buffer). */
  async read(name: string): Promise<Buffer> {
    return readFileRange(this.range(name));
  }

  /** The tensor, or an error naming it, this file and its dtype when it is not F32. */
  private requireFloat32(name: string): TensorEntry {
    const t = this.require(name);
    if (t.dtype !== 'F32')
      throw new CheckpointError({
        file: this.path,
        subject: `tensor '${name}'.dtype`,
        expected: 'F32',
        actual: t.dtype,
      });
    return t;
  }

  /** Reads one F32 tensor as a Float32Array. */
  async readFloat32(name: string): Promise<Float32Array> {
    const t = this.requireFloat32(name);
    const bytes = await this.read(name);
    return new Float32Array(bytes.buffer, bytes.byteOffset, t.length / 4);
  }

  /**
   * Rows [start, start + count) along the first axis of an F32 tensor, by one positioned read: a
   * batch of a large input or reference tensor without the rest of it in memory.
   */
  async readFloat32Rows(name: string, start: number, count: number): Promise<Float32Array> {
    this.requireFloat32(name);
    const bytes = await this.readRows(name, start, count);
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  }

  /**
   * Rows [start, start + count) along the first axis of a tensor of any dtype, by one positioned
   * read into a fresh, 8-byte aligned buffer (so any typed array can view it).
   */
  async readRows(name: string, start: number, count: number): Promise<Buffer> {
    const t = this.require(name);
    const rows = t.shape[0] ?? 1;
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > rows)
      throw new RangeError(`${this.path}: tensor '${name}': rows [${start}, ${start + count}) outside [0, ${rows})`);
    const rowBytes = rows === 0 ? 0 : t.length / rows;
    return readFileRange({ path: this.path, offset: t.offset + start * rowBytes, length: count * rowBytes });
  }

  /**
   * One sequential pass over the file: sha256 of every byte and/or a NaN/Inf check of every float
   * tensor, in bounded memory (two chunk buffers, reads overlapped with the scan).
   */
  async scan(options: ScanOptions): Promise<{ sha256?: string }> {
    const hash = options.sha256 ? createHash('sha256') : undefined;
    const handle = await open(this.path, 'r');
    try {
      const buffers = [Buffer.allocUnsafeSlow(SCAN_CHUNK_BYTES), Buffer.allocUnsafeSlow(SCAN_CHUNK_BYTES)] as const;
      if (hash !== undefined && options.only !== undefined)
        throw new Error('scan: `only` cannot be combined with `sha256`');
      const chunks = this.chunkPlan(hash !== undefined, options.only);
      let flip = 0;
      let pending = chunks.length > 0 ? readChunk(handle, buffers[0], chunks[0]!, this.path) : undefined;
      for (let i = 0; i < chunks.length; i++) {
        const chunk = chunks[i]!;
        const bytes = await pending!;
        flip ^= 1;
        const next = chunks[i + 1];
        pending = next ? readChunk(handle, buffers[flip]!, next, this.path) : undefined;
        hash?.update(bytes);
        if (options.finite && chunk.tensor && SAFETENSORS_DTYPES[chunk.tensor.dtype].float) {
          const bad = findNonFinite(bytes, chunk.tensor.dtype);
          if (bad >= 0) {
            await pending?.catch(() => undefined);
            const element = chunk.elementOffset + bad;
            throw new CheckpointError({
              file: this.path,
              subject: `tensor '${chunk.tensor.name}'`,
              expected: 'finite values',
              actual: `NaN or Inf at element ${element}`,
            });
          }
        }
      }
      return hash ? { sha256: hash.digest('hex') } : {};
    } finally {
      await handle.close();
    }
  }

  /** Chunks in file order; with `whole`, the header too, so the chunks cover every byte; with `only`, those tensors. */
  private chunkPlan(whole: boolean, only?: ReadonlySet<string>): Chunk[] {
    const chunks: Chunk[] = [];
    if (whole) {
      for (let o = 0; o < this.header.dataStart; o += SCAN_CHUNK_BYTES) {
        chunks.push({ offset: o, length: Math.min(SCAN_CHUNK_BYTES, this.header.dataStart - o), elementOffset: 0 });
      }
    }
    for (const tensor of this.header.tensors) {
      if (only !== undefined && !only.has(tensor.name)) continue;
      const element = SAFETENSORS_DTYPES[tensor.dtype].bytes;
      for (let o = 0; o < tensor.length; o += SCAN_CHUNK_BYTES) {
        const length = Math.min(SCAN_CHUNK_BYTES, tensor.length - o);
        chunks.push({ offset: tensor.offset + o, length, tensor, elementOffset: o / element });
      }
    }
    return chunks;
  }
}

interface Chunk {
  readonly offset: number;
  readonly length: number;
  readonly tensor?: TensorEntry;
  readonly elementOffset: number;
}

type Handle = Awaited<ReturnType<typeof open>>;

async function readChunk(handle: Handle, buffer: Buffer, chunk: Chunk, path: string): Promise<Buffer> {
  const view = buffer.subarray(0, chunk.length);
  await readExactly(handle, view, chunk.offset, path, chunk.tensor ? `tensor '${chunk.tensor.name}'` : 'header');
  return view;
}

/** Reads a byte range of a file into a fresh buffer (positioned read, no whole-file copy). */
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

async function readExactly(
  handle: Handle,
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

async function fileSize(path: string): Promise<number> {
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
