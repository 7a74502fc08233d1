import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adoptArtifact } from '../../workspace/local-files';
import { CACHE_DEFAULTS, evictCache, listCache, markUsed, workDirOf, type WorkDir } from '../../workspace/work-cache';
import { loadConfig } from '../../config/environment';
import { tempDir } from './checkpoint-safetensors-writer';

const HOUR = 3600_000;
const NOW = Date.now();

/** Writes `bytes` bytes at `path`; the file and its folder get mtime `ageMs` ago. */
function file(path: string, bytes: number, ageMs: number): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, Buffer.alloc(bytes));
  const t = new Date(NOW - ageMs);
  utimesSync(path, t, t);
  utimesSync(dir, t, t);
}

function artifact(root: string, sha: string, bytes: number, ageMs: number): string {
  const path = join(root, 'artifacts', `${sha}.onnx`);
  file(path, bytes, ageMs);
  file(`${path}.verified`, 0, ageMs);
  writeFileSync(`${path}.verified`, sha);
  const t = new Date(NOW - ageMs);
  utimesSync(`${path}.verified`, t, t);
  return path;
}

function bundle(root: string, id: string, bytes: number, ageMs: number): string {
  const dir = join(root, 'bundles', id);
  file(join(dir, 'model.safetensors'), bytes, ageMs);
  file(join(dir, 'config.json'), 10, ageMs);
  return dir;
}

const work = (root: string, maxBytes: number): WorkDir => ({ root, limits: { maxBytes, minAgeMs: HOUR } });

describe('worker cache eviction', () => {
  it('removes least recently used entries until within the bound, artifacts with their markers', async () => {
    const root = tempDir();
    const oldest = artifact(root, 'a'.repeat(64), 1000, 5 * HOUR);
    const older = bundle(root, 'b1', 1000, 4 * HOUR);
    const old = artifact(root, 'c'.repeat(64), 1000, 3 * HOUR);
    const r = await evictCache(work(root, 1500), NOW);
    expect(r.removed.map((e) => e.kind)).toEqual(['artifact', 'bundle']);
    expect(existsSync(oldest)).toBe(false);
    expect(existsSync(`${oldest}.verified`)).toBe(false);
    expect(existsSync(older)).toBe(false);
    expect(existsSync(old)).toBe(true);
    expect(r.cachedBytes).toBe(1000);
  });

  it('keeps entries used within the minimum age even over the bound', async () => {
    const root = tempDir();
    const stale = artifact(root, 'a'.repeat(64), 1000, 2 * HOUR);
    const inUse = artifact(root, 'b'.repeat(64), 1000, 10 * 60_000);
    const fresh = bundle(root, 'b2', 1000, 60_000);
    const r = await evictCache(work(root, 0), NOW);
    expect(r.removed.map((e) => e.paths.at(-1))).toEqual([stale]);
    expect(existsSync(inUse)).toBe(true);
    expect(existsSync(fresh)).toBe(true);
    expect(r.cachedBytes).toBe(2010);
  });

  it('marking an entry used protects it; a bundle records use with a stamp', async () => {
    const root = tempDir();
    const a = artifact(root, 'a'.repeat(64), 1000, 5 * HOUR);
    const b = bundle(root, 'b3', 1000, 5 * HOUR);
    await markUsed(`${a}.verified`, 'artifact');
    await markUsed(b, 'bundle');
    const r = await evictCache(work(root, 0));
    expect(r.removed).toEqual([]);
    expect(existsSync(join(b, '.last-used'))).toBe(true);
  });

  it('sweeps what crashed activities left once old, whatever the size: scratch, .part files, orphan markers', async () => {
    const root = tempDir();
    file(join(root, 'emit', 'dead', 'model.onnx'), 10, 2 * HOUR);
    file(join(root, 'emit', 'live', 'model.onnx'), 10, 60_000);
    file(join(root, 'artifacts', 'x.part'), 10, 2 * HOUR);
    file(join(root, 'artifacts', `${'d'.repeat(64)}.onnx.verified`), 0, 2 * HOUR);
    const r = await evictCache(work(root, 10 ** 12), NOW);
    expect(r.removed.map((e) => e.kind).sort()).toEqual(['partial', 'partial', 'scratch']);
    expect(existsSync(join(root, 'emit', 'dead'))).toBe(false);
    expect(existsSync(join(root, 'emit', 'live'))).toBe(true);
    expect((await listCache(root)).map((e) => e.kind)).toEqual(['scratch']);
  });

  it('adopting an emitted model evicts old entries beyond the bound, never the new one', async () => {
    const root = tempDir();
    const old = artifact(root, 'a'.repeat(64), 1000, 2 * HOUR);
    const emitted = join(root, 'emit', 'run', 'model.onnx');
    file(emitted, 1000, 0);
    const dest = await adoptArtifact(work(root, 1000), emitted, 'e'.repeat(64));
    expect(existsSync(dest)).toBe(true);
    expect(existsSync(old)).toBe(false);
  });

  it('an empty or missing work folder is fine', async () => {
    expect(await evictCache(work(join(tempDir(), 'nothing'), 0))).toEqual({ removed: [], cachedBytes: 0 });
  });
});

describe('ONNX_EXPORT_CACHE_MAX_BYTES', () => {
  const env = (extra: Record<string, string>) => ({
    ONNX_EXPORT_STATE_DIR: tempDir(),
    ONNX_EXPORT_WORK_DIR: '/tmp/w',
    ...extra,
  });

  it('sets the bound; unset keeps the 20 GiB default and the one-hour minimum age', () => {
    expect(workDirOf(loadConfig(env({ ONNX_EXPORT_CACHE_MAX_BYTES: '1000' })))).toEqual({
      root: '/tmp/w',
      limits: { maxBytes: 1000, minAgeMs: HOUR },
    });
    expect(workDirOf(loadConfig(env({}))).limits).toEqual(CACHE_DEFAULTS);
    expect(CACHE_DEFAULTS).toEqual({ maxBytes: 20 * 1024 ** 3, minAgeMs: HOUR });
  });

  it('refuses what is not a whole number of bytes, naming the variable', () => {
    for (const bad of ['-1', '1.5', '20GiB']) {
      expect(() => loadConfig(env({ ONNX_EXPORT_CACHE_MAX_BYTES: bad }))).toThrow(
        `ONNX_EXPORT_CACHE_MAX_BYTES=${bad}: expected a whole number of bytes, 0 or more`,
      );
    }
  });
});
