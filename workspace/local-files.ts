/**
 * Worker-local copies of what activities work on: checkpoint bundles downloaded from S3, and
 * artifacts cached by sha256 so a stage re-run on the same worker (or the next stage) reads its
 * input from disk instead of the network. Every download lands in a temporary file and is renamed
 * into place only when complete (and, for artifacts, when its sha256 matches): a crash leaves
 * nothing that looks finished. What they add is kept within the cache's bounds (work-cache.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Client as MinioClient } from 'minio';
import { BUNDLE_FILES as FILES, bundleLayout } from '../checkpoint';
import { sha256File } from '../hashing/file-sha256';
import { externalDataFiles } from '../onnx/external-data';
import { readModel } from '../onnx/serialize-read';
import { parseS3Uri } from '../storage';
import { evictCache, markUsed, type WorkDir } from './work-cache';

export class MissingInputError extends Error {
  constructor(
    readonly uri: string,
    detail: string,
  ) {
    super(`${uri}: ${detail}`);
    this.name = 'MissingInputError';
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket';
}

async function downloadTo(minio: MinioClient, bucket: string, key: string, dest: string): Promise<void> {
  const tmp = `${dest}.${randomUUID()}.part`;
  await mkdir(dirname(dest), { recursive: true });
  try {
    await minio.fGetObject(bucket, key, tmp);
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** An object under the bundle's prefix, by its name relative to the prefix. */
interface ListedObject {
  readonly etag: string;
  readonly size: number;
}

/** Every object under `prefix` (recursively), by relative name; a bucket that does not exist lists nothing. */
async function listPrefix(minio: MinioClient, bucket: string, prefix: string): Promise<Map<string, ListedObject>> {
  const listed = new Map<string, ListedObject>();
  try {
    for await (const item of minio.listObjectsV2(bucket, prefix, true)) {
      const o = item as { name?: string; etag?: string; size?: number };
      if (o.name !== undefined) listed.set(o.name.slice(prefix.length), { etag: o.etag ?? '', size: o.size ?? 0 });
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return listed;
}

/** `name:etag:size` lines: what a cached copy of these files is keyed on. */
function identity(names: readonly string[], listed: ReadonlyMap<string, ListedObject>): string {
  return names.map((n) => `${n}:${listed.get(n)?.etag}:${listed.get(n)?.size}`).join('\n');
}

/**
 * The external data files a downloaded graph names (relative locations), or none if it does not
 * parse: the loader then refuses the graph, naming the file and the tensor, so the fetch need not.
 */
async function graphExternalData(modelPath: string): Promise<string[]> {
  try {
    return externalDataFiles(await readModel(modelPath), modelPath).map((f) => f.location);
  } catch {
    return [];
  }
}

/** Records which external data a bundle folder holds (by name, etag and size), beside its own files. */
const EXTERNAL_DATA_MARKER = '.external-data';

/**
 * Downloads a bundle (`s3://bucket/prefix/`) into `workDir/bundles/<hash of uri and etags>/` and
 * returns that folder. Which files it has is the bundle layout's decision (checkpoint/bundle-layout):
 * a weights bundle's config.json, model.safetensors (or one torch checkpoint, config.json then
 * optional) and reference.safetensors, or a graph bundle's model.onnx and reference.safetensors, with
 * calibration.safetensors when present; a bundle the layout refuses (a missing file, model.onnx
 * beside weights, two weights files) is refused here naming the object.
 * A graph's external data files are downloaded after it, those that exist under the prefix (the
 * loader refuses the rest, naming the tensor). Files are matched to their S3 ETags, so a re-run
 * finds them in place; the folder's name covers every file of the layout, so a calibration file
 * added later gives a new folder, never a stale one, and the external data is re-checked by ETag.
 */
export async function fetchBundle(
  minio: MinioClient,
  work: WorkDir,
  checkpointUri: string,
  onFile?: (name: string) => void,
): Promise<string> {
  const { bucket, key } = parseS3Uri(checkpointUri, 'checkpointUri');
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  const listed = await listPrefix(minio, bucket, prefix);
  const verdict = bundleLayout([...listed.keys()].filter((n) => !n.includes('/')));
  if ('refusal' in verdict) {
    throw new MissingInputError(`s3://${bucket}/${prefix}${verdict.refusal.file}`, verdict.refusal.problem);
  }
  const { files, kind } = verdict.layout;
  const id = createHash('sha256')
    .update(`${checkpointUri}\n${identity(files, listed)}`)
    .digest('hex')
    .slice(0, 32);
  const dir = join(work.root, 'bundles', id);
  await mkdir(dir, { recursive: true });
  await markUsed(dir, 'bundle');
  let downloaded = false;
  const download = async (names: readonly string[], always: boolean): Promise<void> => {
    for (const name of names) {
      const dest = join(dir, name);
      if (!always && (await exists(dest))) continue;
      onFile?.(name);
      await downloadTo(minio, bucket, `${prefix}${name}`, dest);
      downloaded = true;
    }
  };
  await download(files, false);
  if (kind === 'graph') {
    const external = (await graphExternalData(join(dir, FILES.graph))).filter((n) => listed.has(n));
    const marker = join(dir, EXTERNAL_DATA_MARKER);
    const want = identity(external, listed);
    const have = await readFile(marker, 'utf8').catch(() => undefined);
    if (have !== want) {
      await download(external, true);
      await writeFile(marker, want);
    }
  }
  if (downloaded) await evictCache(work);
  return dir;
}

/**
 * The local path of an artifact, downloaded (and its sha256 checked) unless already cached. Without
 * a sha256 the object is downloaded and named by the hash of what arrived.
 */
export async function localArtifact(
  minio: MinioClient,
  work: WorkDir,
  ref: { uri: string; sha256?: string },
): Promise<string> {
  const dir = join(work.root, 'artifacts');
  if (ref.sha256) {
    const cached = join(dir, `${ref.sha256}.onnx`);
    const marker = `${cached}.verified`;
    if ((await exists(marker)) && (await readFile(marker, 'utf8')) === ref.sha256 && (await exists(cached))) {
      await markUsed(marker, 'artifact');
      return cached;
    }
  }
  await mkdir(dir, { recursive: true });
  const { bucket, key } = parseS3Uri(ref.uri, 'artifact.uri');
  const tmp = join(dir, `${randomUUID()}.part`);
  try {
    try {
      await minio.fGetObject(bucket, key, tmp);
    } catch (err) {
      if (isNotFound(err)) throw new MissingInputError(ref.uri, 'the artifact does not exist');
      throw err;
    }
    const { sha256: got } = await sha256File(tmp);
    if (ref.sha256 && got !== ref.sha256)
      throw new Error(`${ref.uri}: downloaded bytes have sha256 ${got}, expected ${ref.sha256}`);
    const dest = join(dir, `${got}.onnx`);
    await rename(tmp, dest);
    await writeFile(`${dest}.verified`, got);
    await evictCache(work);
    return dest;
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Keeps an emitted file in the artifact cache under its sha256 (the name its later stages look for),
 * so validate and parity on this worker don't download what it just wrote.
 */
export async function adoptArtifact(work: WorkDir, path: string, sha256: string): Promise<string> {
  const dir = join(work.root, 'artifacts');
  await mkdir(dir, { recursive: true });
  const dest = join(dir, `${sha256}.onnx`);
  await rename(path, dest);
  await writeFile(`${dest}.verified`, sha256);
  await evictCache(work);
  return dest;
}
