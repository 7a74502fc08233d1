/**
 * What an architecture plug-in reads weights through, whatever file holds them: `WeightsFile`, the
 * named tensors of one file, each a contiguous byte range of it (dtype as safetensors names it, shape,
 * offset, length). model.safetensors (safetensors-file.ts) and a torch.save checkpoint
 * (torch-checkpoint.ts) both are one, so a plug-in reads `.pth`/`.ckpt` exactly as safetensors.
 * `TensorRangeFile` is the part they share: lookup, ranges, positioned reads (float16 and bfloat16
 * widened to float32 on read) and a bounded-memory scan. It must never read the whole file into
 * memory, nor know which format the tensors came from.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { CheckpointError } from './checkpoint-error';
import { readExactly, readFileRange, type FileHandle, type FileRange } from './file-ranges';
import { findNonFinite } from './finite-scan';
import { widenBfloat16, widenFloat16 } from './float-widen';
import { SAFETENSORS_DTYPES } from './safetensors-dtypes';
import type { TensorEntry } from './safetensors-header';

/** The named tensors of a weights file; every member a plug-in may use. */
export interface WeightsFile {
  readonly path: string;
  /** Every tensor of the weights (for a checkpoint: of its state dict only). */
  readonly tensors: readonly TensorEntry[];
  get(name: string): TensorEntry | undefined;
  /** The tensor, or an error naming it and this file. */
  require(name: string): TensorEntry;
  /** The tensor's bytes as a file range: nothing is read. */
  range(name: string): FileRange;
  /** Reads one tensor's bytes (a fresh, 8-byte aligned buffer). */
  read(name: string): Promise<Buffer>;
  /** Reads one F32 tensor as a Float32Array; F16 and BF16 tensors are widened to float32. */
  readFloat32(name: string): Promise<Float32Array>;
}

/** Chunk of the streaming scan: large enough for sequential throughput, small next to any model. */
const SCAN_CHUNK_BYTES = 16 * 1024 * 1024;

export interface ScanOptions {
  /** Refuse NaN/Inf in float tensors (names the first offending tensor and element). */
  readonly finite?: boolean;
  /** Compute the file's sha256 in the same pass (tensors must not overlap). */
  readonly sha256?: boolean;
  /** Scan only these tensors (still in file order); not with `sha256`. */
  readonly only?: ReadonlySet<string>;
}

/** Lookup, ranges, reads and the scan, over any list of tensors that are byte ranges of one file. */
export abstract class TensorRangeFile implements WeightsFile {
  private readonly byName: ReadonlyMap<string, TensorEntry>;

  protected constructor(
    readonly path: string,
    readonly size: number,
    readonly tensors: readonly TensorEntry[],
  ) {
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  get(name: string): TensorEntry | undefined {
    return this.byName.get(name);
  }

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

  range(name: string): FileRange {
    const t = this.require(name);
    return { path: this.path, offset: t.offset, length: t.length };
  }

  async read(name: string): Promise<Buffer> {
    return readFileRange(this.range(name));
  }

  async readFloat32(name: string): Promise<Float32Array> {
    const t = this.require(name);
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16')
      throw new CheckpointError({
        file: this.path,
        subject: `tensor '${name}'.dtype`,
        expected: 'F32 (or F16, BF16: widened)',
        actual: t.dtype,
      });
    const bytes = await this.read(name);
    if (t.dtype === 'F16') return widenFloat16(bytes);
    if (t.dtype === 'BF16') return widenBfloat16(bytes);
    return new Float32Array(bytes.buffer, bytes.byteOffset, t.length / 4);
  }

  /**
   * One sequential pass over the file: sha256 of every byte and/or a NaN/Inf check of every float
   * tensor, in bounded memory (two chunk buffers, reads overlapped with the scan).
   */
  async scan(options: ScanOptions): Promise<{ sha256?: string }> {
    const hash = options.sha256 ? createHash('sha256') : undefined;
    if (hash !== undefined && options.only !== undefined)
      throw new Error('scan: `only` cannot be combined with `sha256`');
    const chunks = this.chunkPlan(hash !== undefined, options.only);
    const handle = await open(this.path, 'r');
    try {
      const buffers = [Buffer.allocUnsafeSlow(SCAN_CHUNK_BYTES), Buffer.allocUnsafeSlow(SCAN_CHUNK_BYTES)] as const;
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

  /**
   * Chunks in file order; with `whole`, the bytes between tensors too, so the chunks cover every byte
   * once (tensors must not overlap); with `only`, those tensors.
   */
  private chunkPlan(whole: boolean, only?: ReadonlySet<string>): Chunk[] {
    const chunks: Chunk[] = [];
    const gap = (from: number, to: number) => {
      for (let o = from; o < to; o += SCAN_CHUNK_BYTES) {
        chunks.push({ offset: o, length: Math.min(SCAN_CHUNK_BYTES, to - o), elementOffset: 0 });
      }
    };
    const inOrder = [...this.tensors].sort((a, b) => a.offset - b.offset);
    let covered = 0;
    for (const tensor of inOrder) {
      if (only !== undefined && !only.has(tensor.name)) continue;
      if (whole) {
        if (tensor.offset < covered)
          throw new Error(`scan: tensor '${tensor.name}' overlaps another: no whole-file pass`);
        gap(covered, tensor.offset);
        covered = tensor.offset + tensor.length;
      }
      const element = SAFETENSORS_DTYPES[tensor.dtype].bytes;
      for (let o = 0; o < tensor.length; o += SCAN_CHUNK_BYTES) {
        const length = Math.min(SCAN_CHUNK_BYTES, tensor.length - o);
        chunks.push({ offset: tensor.offset + o, length, tensor, elementOffset: o / element });
      }
    }
    if (whole) gap(covered, this.size);
    return chunks;
  }
}

interface Chunk {
  readonly offset: number;
  readonly length: number;
  readonly tensor?: TensorEntry;
  readonly elementOffset: number;
}

async function readChunk(handle: FileHandle, buffer: Buffer, chunk: Chunk, path: string): Promise<Buffer> {
  const view = buffer.subarray(0, chunk.length);
  await readExactly(handle, view, chunk.offset, path, chunk.tensor ? `tensor '${chunk.tensor.name}'` : 'header');
  return view;
}
