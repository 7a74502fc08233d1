/**
 * An open safetensors file: validated header, tensor lookup, and tensor bytes by positioned reads.
 * Tensors are handed out as file ranges (zero copy: the serializer streams them) or read one at a
 * time when their values are needed. It must never read the whole file into memory.
 */
import { open } from 'node:fs/promises';
import { CheckpointError } from './checkpoint-error';
import { fileSize, readExactly, readFileRange } from './file-ranges';
import {
  HEADER_LENGTH_BYTES,
  parseHeader,
  parseHeaderLength,
  type SafetensorsHeader,
  type TensorEntry,
} from './safetensors-header';
import { TensorRangeFile } from './weights-file';

export class SafetensorsFile extends TensorRangeFile {
  private constructor(
    path: string,
    size: number,
    readonly header: SafetensorsHeader,
  ) {
    super(path, size, header.tensors);
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

  get metadata(): Readonly<Record<string, string>> {
    return this.header.metadata;
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
}
