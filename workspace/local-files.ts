/**
 * Worker-local copies of what activities work on: checkpoint bundles downloaded from S3, and
 * artifacts cached by sha256 so a stage re-run on the same worker (or the next stage) reads its
 * input from disk instead of the network. Every download lands in a temporary file and is renamed
 * into place only when complete (and, for artifacts, when its sha256 matches): a crash leaves
 * nothing that looks finished. What they add is kept within the cache's bounds (work-cache.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client as MinioClient } from 'minio';
import { OPTIONAL_BUNDLE_FILES as OPTIONAL_FILES, REQUIRED_BUNDLE_FILES } from '../checkpoint';
import { sha256File } from '../hashing/file-sha256';
import { parseS3Uri } from '../storage';
import { evictCache, markUsed, type WorkDir } from './work-cache';

/** The files every checkpoint bundle has, as checkpoint/ names them; the reference is needed for parity. */
export const BUNDLE_FILES: readonly string[] = [...REQUIRED_BUNDLE_FILES];
/** Files a bundle may have (calibration.safetensors): fetched when present, their absence is no error. */
export const OPTIONAL_BUNDLE_FILES: readonly string[] = [...OPTIONAL_FILES];

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
  try {
    await minio.fGetObject(bucket, key, tmp);
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Downloads a bundle (`s3://bucket/prefix/`) into `workDir/bundles/<hash of uri and etags>/` and
 * returns that folder. Files are matched to their S3 ETags, so a re-run finds them in place. The
 * optional files (calibration.safetensors) are downloaded when the bundle has them; the folder's
 * name covers them too, so a calibration file added later gives a new folder, never a stale one.
 */
export async function fetchBundle(
  minio: MinioClient,
  work: WorkDir,
  checkpointUri: string,
  onFile?: (name: string) => void,
): Promise<string> {
  const { bucket, key } = parseS3Uri(checkpointUri, 'checkpointUri');
  const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
  const etags: string[] = [];
  for (const name of BUNDLE_FILES) {
    try {
      const st = await minio.statObject(bucket, `${prefix}${name}`);
      etags.push(`${name}:${st.etag}:${st.size}`);
    } catch (err) {
      if (isNotFound(err))
        throw new MissingInputError(
          `s3://${bucket}/${prefix}${name}`,
          `the checkpoint bundle has no ${name} (a bundle needs ${BUNDLE_FILES.join(', ')})`,
        );
      throw err;
    }
  }
  const present = [...BUNDLE_FILES];
  for (const name of OPTIONAL_BUNDLE_FILES) {
    try {
      const st = await minio.statObject(bucket, `${prefix}${name}`);
      etags.push(`${name}:${st.etag}:${st.size}`);
      present.push(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  const id = createHash('sha256')
    .update(`${checkpointUri}\n${etags.join('\n')}`)
    .digest('hex')
    .slice(0, 32);
  const dir = join(work.root, 'bundles', id);
  await mkdir(dir, { recursive: true });
  await markUsed(dir, 'bundle');
  let downloaded = false;
  for (const name of present) {
    const dest = join(dir, name);
    if (await exists(dest)) continue;
    onFile?.(name);
    await downloadTo(minio, bucket, `${prefix}${name}`, dest);
    downloaded = true;
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
