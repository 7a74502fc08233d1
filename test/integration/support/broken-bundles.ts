/**
 * Test helper: copies of one good checkpoint bundle with one thing broken (a safetensors header
 * rewritten, a file truncated, a tensor added, removed or poisoned, a config field changed), for the
 * bad-input tests. Works on the bytes of real PyTorch-written files; tests only.
 */
import { cpSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RawEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** A safetensors file as its header JSON (tensors and `__metadata__`) and its data section. */
export interface RawSafetensors {
  header: Record<string, unknown>;
  data: Buffer;
}

export function readSafetensors(path: string): RawSafetensors {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  return {
    header: JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, unknown>,
    data: bytes.subarray(8 + length),
  };
}

/** Writes a header (any JSON, or raw text) and data; `headerLength` overrides the length prefix. */
export function writeSafetensors(
  path: string,
  file: RawSafetensors,
  opts: { rawHeader?: string; headerLength?: bigint } = {},
): void {
  const json = Buffer.from(opts.rawHeader ?? JSON.stringify(file.header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(opts.headerLength ?? BigInt(json.length));
  writeFileSync(path, Buffer.concat([prefix, json, file.data]));
}

/** Tensor entries of a header in file order, without `__metadata__`. */
export function entries(file: RawSafetensors): [string, RawEntry][] {
  return Object.entries(file.header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, e]) => [name, e as RawEntry] as [string, RawEntry])
    .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
}

/** The tensors' bytes by name, so a test can drop, add or change tensors and re-pack them. */
export function tensors(file: RawSafetensors): Map<string, { dtype: string; shape: number[]; data: Buffer }> {
  const out = new Map<string, { dtype: string; shape: number[]; data: Buffer }>();
  for (const [name, e] of entries(file))
    out.set(name, {
      dtype: e.dtype,
      shape: e.shape,
      data: Buffer.from(file.data.subarray(e.data_offsets[0], e.data_offsets[1])),
    });
  return out;
}

/** Packs tensors back to back (a well-formed file) with the original metadata. */
export function pack(
  original: RawSafetensors,
  list: Map<string, { dtype: string; shape: number[]; data: Buffer }>,
): RawSafetensors {
  const header: Record<string, unknown> = original.header.__metadata__
    ? { __metadata__: original.header.__metadata__ }
    : {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of list) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    chunks.push(t.data);
    offset += t.data.length;
  }
  return { header, data: Buffer.concat(chunks) };
}

/** A copy of `bundleDir` in a fresh temporary folder, then `breakIt(copyDir)`. */
export function brokenCopy(bundleDir: string, breakIt: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-export-broken-'));
  cpSync(bundleDir, dir, { recursive: true });
  breakIt(dir);
  return dir;
}

export function editSafetensors(
  dir: string,
  file: string,
  edit: (st: RawSafetensors) => RawSafetensors | void,
  opts: { rawHeader?: (st: RawSafetensors) => string; headerLength?: (st: RawSafetensors) => bigint } = {},
): void {
  const path = join(dir, file);
  const st = readSafetensors(path);
  const out = edit(st) ?? st;
  writeSafetensors(path, out, {
    ...(opts.rawHeader ? { rawHeader: opts.rawHeader(out) } : {}),
    ...(opts.headerLength ? { headerLength: opts.headerLength(out) } : {}),
  });
}

export function editConfig(dir: string, edit: (config: Record<string, unknown>) => void): void {
  const path = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(path, JSON.stringify(config, null, 2));
}

export function truncateFile(dir: string, file: string, keepFraction: number): void {
  const path = join(dir, file);
  truncateSync(path, Math.floor(readFileSync(path).length * keepFraction));
}

export function f32Bytes(values: readonly number[]): Buffer {
  return Buffer.from(Float32Array.from(values).buffer);
}
