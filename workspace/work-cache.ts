/**
 * Keeps the worker's local copies bounded. `workDir/artifacts` (models by sha256) and
 * `workDir/bundles` (checkpoint bundles) are a cache of what S3 holds, so removing an entry is always
 * safe for correctness: the next stage that needs it downloads it again. Least recently used goes
 * first once the total passes `maxBytes`; an entry used within `minAgeMs` is kept even then (a stage
 * may be reading it right now), so the bound can be exceeded while many exports are in flight.
 * Leftovers of crashed activities (emit scratch folders, `*.part` downloads) are removed once they
 * are older than `minAgeMs`, whatever the size. Use is recorded by touching the entry (`markUsed`).
 *
 * It must not download or decide what an artifact is (local-files.ts does).
 */
import { readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PipelineConfig } from '../config/environment';

export interface CacheLimits {
  /** Cached bytes (artifacts and bundles) to keep at most, when old enough to remove. */
  readonly maxBytes: number;
  /** Entries used more recently than this are never removed. */
  readonly minAgeMs: number;
}

export const CACHE_DEFAULTS: CacheLimits = {
  /** Room for a dozen convnext_large exports (786 MB model + 786 MB bundle each). */
  maxBytes: 20 * 1024 ** 3,
  /** Far longer than any stage reads its input (a convnext_large parity or benchmark takes minutes). */
  minAgeMs: 60 * 60 * 1000,
};

/** The worker's work folder and the bounds of its cache. */
export interface WorkDir {
  readonly root: string;
  readonly limits: CacheLimits;
}

/** The worker's work folder with its cache bounds (ONNX_EXPORT_CACHE_MAX_BYTES, else the default). */
export function workDirOf(config: Pick<PipelineConfig, 'workDir' | 'cache'>): WorkDir {
  return {
    root: config.workDir,
    limits: { ...CACHE_DEFAULTS, ...(config.cache.maxBytes !== undefined ? { maxBytes: config.cache.maxBytes } : {}) },
  };
}

export type EntryKind = 'artifact' | 'bundle' | 'scratch' | 'partial';

export interface CacheEntry {
  readonly kind: EntryKind;
  /** Every path that belongs to the entry (an artifact and its `.verified` marker). */
  readonly paths: readonly string[];
  readonly bytes: number;
  readonly lastUsedMs: number;
}

/** Artifacts and bundles are the cache proper; scratch folders and partial files are leftovers. */
export function isCached(e: CacheEntry): boolean {
  return e.kind === 'artifact' || e.kind === 'bundle';
}

export interface EvictionResult {
  readonly removed: readonly CacheEntry[];
  /** Cached bytes left (artifacts and bundles). */
  readonly cachedBytes: number;
}

/** A bundle folder's use stamp (its files keep their download times). */
export const BUNDLE_USED_STAMP = '.last-used';
const VERIFIED_SUFFIX = '.verified';
const PARTIAL_SUFFIX = '.part';

/** Records that `path` (an artifact's `.verified` marker or a bundle folder) was just used. */
export async function markUsed(path: string, kind: 'artifact' | 'bundle'): Promise<void> {
  const now = new Date();
  if (kind === 'bundle') await writeFile(join(path, BUNDLE_USED_STAMP), '');
  else await utimes(path, now, now).catch(() => undefined);
}

async function entriesOf(dir: string): Promise<string[]> {
  return readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
}

/** Size and newest mtime of a file or a folder's files (one level; bundles and scratch folders are flat). */
async function measure(path: string): Promise<{ bytes: number; mtimeMs: number } | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (st === undefined) return undefined;
  if (!st.isDirectory()) return { bytes: st.size, mtimeMs: st.mtimeMs };
  let bytes = 0;
  let mtimeMs = st.mtimeMs;
  for (const name of await entriesOf(path)) {
    const f = await stat(join(path, name)).catch(() => undefined);
    if (f === undefined) continue;
    bytes += f.isDirectory() ? 0 : f.size;
    mtimeMs = Math.max(mtimeMs, f.mtimeMs);
  }
  return { bytes, mtimeMs };
}

/** Everything under the work folder, as entries. */
export async function listCache(root: string): Promise<CacheEntry[]> {
  const entries: CacheEntry[] = [];
  const artifacts = join(root, 'artifacts');
  const names = await entriesOf(artifacts);
  for (const name of names) {
    const path = join(artifacts, name);
    if (name.endsWith(PARTIAL_SUFFIX)) {
      const m = await measure(path);
      if (m) entries.push({ kind: 'partial', paths: [path], bytes: m.bytes, lastUsedMs: m.mtimeMs });
    } else if (!name.endsWith(VERIFIED_SUFFIX)) {
      const [m, marker] = await Promise.all([measure(path), measure(`${path}${VERIFIED_SUFFIX}`)]);
      if (m)
        entries.push({
          kind: 'artifact',
          paths: [`${path}${VERIFIED_SUFFIX}`, path],
          bytes: m.bytes,
          lastUsedMs: Math.max(m.mtimeMs, marker?.mtimeMs ?? 0),
        });
    } else if (!names.includes(name.slice(0, -VERIFIED_SUFFIX.length))) {
      const m = await measure(path); // a marker whose artifact is gone
      if (m) entries.push({ kind: 'partial', paths: [path], bytes: m.bytes, lastUsedMs: m.mtimeMs });
    }
  }
  for (const name of await entriesOf(join(root, 'bundles'))) {
    const path = join(root, 'bundles', name);
    const m = await measure(path);
    // A bundle folder gets `.part` files while downloading, so its newest mtime is its last use too.
    if (m) entries.push({ kind: 'bundle', paths: [path], bytes: m.bytes, lastUsedMs: m.mtimeMs });
  }
  for (const name of await entriesOf(join(root, 'emit'))) {
    const path = join(root, 'emit', name);
    const m = await measure(path);
    if (m) entries.push({ kind: 'scratch', paths: [path], bytes: m.bytes, lastUsedMs: m.mtimeMs });
  }
  return entries;
}

/**
 * Removes leftovers older than `minAgeMs`, then least recently used cache entries older than
 * `minAgeMs` until the cached bytes are within `maxBytes`. Safe to run concurrently with itself and
 * with stages (removal is `rm --force`; a stage that loses an entry downloads it again).
 */
export async function evictCache(work: WorkDir, now = Date.now()): Promise<EvictionResult> {
  const { maxBytes, minAgeMs } = work.limits;
  const oldEnough = (e: CacheEntry) => now - e.lastUsedMs >= minAgeMs;
  const entries = await listCache(work.root);
  const removed: CacheEntry[] = [];
  const remove = async (e: CacheEntry) => {
    for (const p of e.paths) await rm(p, { recursive: true, force: true });
    removed.push(e);
  };
  for (const e of entries) if (!isCached(e) && oldEnough(e)) await remove(e);
  const cached = entries.filter(isCached).sort((a, b) => a.lastUsedMs - b.lastUsedMs);
  let cachedBytes = cached.reduce((sum, e) => sum + e.bytes, 0);
  for (const e of cached) {
    if (cachedBytes <= maxBytes || !oldEnough(e)) break;
    await remove(e);
    cachedBytes -= e.bytes;
  }
  return { removed, cachedBytes };
}
