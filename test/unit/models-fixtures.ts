/**
 * Test helper for the models and parity tests: the committed small bundle, temp bundles with edited
 * weights, and header-only (sparse) safetensors files for preset-sized key/shape checks. Tests only.
 */
import { closeSync, copyFileSync, ftruncateSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readFileRange, SafetensorsFile } from '../../checkpoint';
import { loadBundle, type ArchitectureConfig, type Bundle, type LocalizationNetConfig } from '../../models';
import type { LocalizationNetBundle } from '../../models/localizationnet';
import { tempDir } from './checkpoint-safetensors-writer';

export const SMALL_BUNDLE = join(__dirname, '../../scripts/fixtures/data/localizationnet-small');

export interface Entry {
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Real bytes, or undefined for a zero-filled (sparse) range. */
  readonly data?: Uint8Array;
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, I64: 8, BOOL: 1 };

/** Writes a safetensors file; entries without data become holes of zeros (sparse, so preset sizes cost no disk). */
export function writeSafetensors(path: string, entries: ReadonlyMap<string, Entry>): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, e] of entries) {
    const length = e.shape.reduce((a, b) => a * b, 1) * (BYTES[e.dtype] ?? 4);
    header[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, prefix);
    writeSync(fd, json);
    const start = 8 + json.length;
    let at = start;
    for (const e of entries.values()) {
      const length = e.shape.reduce((a, b) => a * b, 1) * (BYTES[e.dtype] ?? 4);
      if (e.data) writeSync(fd, e.data, 0, e.data.length, at);
      at += length;
    }
    ftruncateSync(fd, at);
  } finally {
    closeSync(fd);
  }
}

/** The small bundle's tensors with their bytes, in file order, for editing. */
export async function smallEntries(): Promise<Map<string, Entry>> {
  const file = await SafetensorsFile.open(join(SMALL_BUNDLE, 'model.safetensors'));
  const out = new Map<string, Entry>();
  for (const t of file.tensors)
    out.set(t.name, { dtype: t.dtype, shape: t.shape, data: await readFileRange(file.range(t.name)) });
  return out;
}

/** A bundle dir with the small bundle's config and reference and the given weights/config. */
export function bundleWith(entries: ReadonlyMap<string, Entry>, config?: Record<string, unknown>): string {
  const dir = tempDir();
  writeSafetensors(join(dir, 'model.safetensors'), entries);
  copyFileSync(join(SMALL_BUNDLE, 'reference.safetensors'), join(dir, 'reference.safetensors'));
  if (config) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  else copyFileSync(join(SMALL_BUNDLE, 'config.json'), join(dir, 'config.json'));
  return dir;
}

/** A LocalizationNet config, or an error: narrows the union of every listed architecture's config. */
export function localizationNetConfig(config: ArchitectureConfig): LocalizationNetConfig {
  if (config.architecture !== 'LocalizationNet')
    throw new Error(`expected a LocalizationNet config, got ${config.architecture}`);
  return config;
}

/** loadBundle for a LocalizationNet bundle, typed as LocalizationNet's build takes it. */
export async function loadLocalizationNetBundle(dir: string): Promise<Bundle & LocalizationNetBundle> {
  const bundle = await loadBundle(dir);
  return { ...bundle, config: localizationNetConfig(bundle.config) };
}
