/**
 * Test helper: writes safetensors files, valid or deliberately broken, for the checkpoint tests.
 * Not a test itself; tests only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

export interface RawTensor {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

export function f32(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** Header JSON and data for `tensors`, packed back to back in the given order. */
export function layout(
  tensors: Readonly<Record<string, RawTensor>>,
  metadata?: Record<string, string>,
): { header: Record<string, unknown>; data: Uint8Array } {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  const chunks: Uint8Array[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    chunks.push(t.data);
    offset += t.data.length;
  }
  return { header, data: Buffer.concat(chunks) };
}

/** A safetensors file from a header (any JSON, or raw text) and data bytes. */
export function encode(
  header: unknown,
  data: Uint8Array,
  opts: { rawHeader?: string; headerLength?: bigint } = {},
): Buffer {
  const json = Buffer.from(opts.rawHeader ?? JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(opts.headerLength ?? BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

/** Temporary folders made by this test process, removed after the importing test file. */
const made: string[] = [];
// Registered on the importing test file's root suite (vitest loads this module once per file).
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'checkpoint-test-'));
  made.push(dir);
  return dir;
}

export function writeTemp(bytes: Uint8Array, name = 'model.safetensors', dir = tempDir()): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}
