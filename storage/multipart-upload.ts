/**
 * A streaming, resumable multipart upload of one local file. The file is read part by part (at
 * most `concurrency` parts in flight plus the one being read, so memory is bounded whatever the
 * size), every part is hashed, and after each finished part the caller gets a checkpoint to keep
 * (the activity heartbeats it). Given that checkpoint back, a later attempt re-reads the file but
 * sends only the parts the server does not hold yet; a checkpoint of another upload is aborted and
 * a stale one (upload gone) is dropped. After completion the object is verified: size, sha256
 * metadata, and the multipart ETag recomputed from the parts.
 *
 * Knows nothing of Temporal. Must not buffer the whole file or send a part the server already holds.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { planParts, type PlannedPart } from './part-plan';
import type { RetryPolicy, Sleep } from '../common/retry-backoff';
import { withStorageRetry } from './retry';
import type { S3Operations, ServerPart } from './s3-operations';
import { ContentMismatchError, StorageError, UploadAbortedError } from './storage-error';
import {
  judgeCheckpoint,
  UPLOAD_CHECKPOINT_VERSION,
  type FinishedPart,
  type UploadCheckpoint,
  type UploadTarget,
} from './upload-checkpoint';

export interface MultipartUploadOptions {
  partSize: number;
  concurrency: number;
  retry: RetryPolicy;
  /** Incomplete uploads of the same key older than this are aborted before a new one starts. */
  staleUploadAgeMs: number;
  /** The checkpoint an earlier attempt reported (anything: it is validated). */
  resumeFrom?: unknown;
  /** Called with a fresh checkpoint once the upload id exists and after every finished part. */
  onProgress?: (checkpoint: UploadCheckpoint) => void;
  /** Stops before the next part; parts already in flight finish and are reported. */
  signal?: AbortSignal;
  /** Extra user metadata for the object (sha256 is always set). */
  metadata?: Record<string, string>;
  now?: () => number;
  sleep?: Sleep;
}

export interface MultipartUploadResult {
  etag: string;
  uploadId: string;
  parts: number;
  /** Part bytes sent in this attempt (excludes parts the server already held). */
  bytesSent: number;
  /** Part bytes an earlier attempt had sent and this one reused. */
  bytesReused: number;
  /** Upload ids aborted as stale or foreign. */
  abortedUploads: string[];
}

function md5Hex(buf: Buffer): string {
  return createHash('md5').update(buf).digest('hex');
}

/** S3/MinIO multipart ETag: md5 of the concatenated binary part md5s, `-<count>`; undefined unless every part ETag is an md5. */
export function expectedMultipartEtag(partEtags: readonly string[]): string | undefined {
  if (!partEtags.every((e) => /^[0-9a-f]{32}$/.test(e))) return undefined;
  const h = createHash('md5');
  for (const e of partEtags) h.update(Buffer.from(e, 'hex'));
  return `${h.digest('hex')}-${partEtags.length}`;
}

function isNoSuchUpload(err: unknown): boolean {
  const e = err instanceof StorageError ? err.context.code : (err as { code?: string } | undefined)?.code;
  return e === 'NoSuchUpload';
}

export async function uploadFileMultipart(
  ops: S3Operations,
  file: { path: string; size: number; sha256: string },
  dest: { bucket: string; key: string },
  opts: MultipartUploadOptions,
): Promise<MultipartUploadResult> {
  const { bucket, key } = dest;
  const retry = <T>(operation: string, fn: () => Promise<T>) =>
    withStorageRetry({ operation, bucket, key }, opts.retry, fn, { sleep: opts.sleep });
  const now = opts.now ?? Date.now;
  const plan = planParts(file.size, opts.partSize);
  const target: UploadTarget = { bucket, key, sha256: file.sha256, size: file.size, partSize: opts.partSize };
  const abortedUploads: string[] = [];

  // 1. Decide what an earlier attempt left us.
  let uploadId: string | undefined;
  const finished = new Map<number, FinishedPart>();
  /** Parts the server holds that the checkpoint did not record (its last heartbeat was lost): adopted if their md5 matches. */
  const adoptable = new Map<number, ServerPart>();
  const verdict = judgeCheckpoint(opts.resumeFrom, target, plan);
  if (verdict.kind === 'foreign' && verdict.checkpoint.bucket === bucket) {
    await abortQuietly(ops, bucket, verdict.checkpoint.key, verdict.checkpoint.uploadId, retry);
    abortedUploads.push(verdict.checkpoint.uploadId);
  } else if (verdict.kind === 'resumable') {
    const cp = verdict.checkpoint;
    let serverParts: ServerPart[] | undefined;
    try {
      serverParts = await retry('ListParts', () => ops.listParts(bucket, key, cp.uploadId));
    } catch (err) {
      if (!isNoSuchUpload(err)) throw err; // stale: completed, aborted or expired
    }
    if (serverParts) {
      uploadId = cp.uploadId;
      const onServer = new Map(serverParts.map((p) => [p.number, p]));
      for (const part of cp.parts) {
        const s = onServer.get(part.number);
        if (s && s.etag === part.etag && s.size === part.size) finished.set(part.number, part);
      }
      for (const s of serverParts) {
        if (!finished.has(s.number) && plan[s.number - 1]?.size === s.size) adoptable.set(s.number, s);
      }
    }
  }

  // 2. No resumable upload: clear stale ones of this key, start a new one.
  if (!uploadId) {
    const incomplete = await retry('ListMultipartUploads', () => ops.listIncompleteUploads(bucket, key));
    for (const u of incomplete) {
      if (now() - u.initiated.getTime() > opts.staleUploadAgeMs) {
        await abortQuietly(ops, bucket, key, u.uploadId, retry);
        abortedUploads.push(u.uploadId);
      }
    }
    const metadata = { ...(opts.metadata ?? {}), sha256: file.sha256 };
    uploadId = await retry('CreateMultipartUpload', () => ops.initiateMultipart(bucket, key, metadata));
  }
  const id = uploadId;
  const checkpoint = (): UploadCheckpoint => ({
    version: UPLOAD_CHECKPOINT_VERSION,
    ...target,
    uploadId: id,
    parts: [...finished.values()].sort((a, b) => a.number - b.number),
  });
  opts.onProgress?.(checkpoint());

  // 3. Read every part in order (the whole-file hash needs them all), send the missing ones.
  const fileHash = createHash('sha256');
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let bytesSent = 0;
  let bytesReused = 0;
  const handle = await open(file.path, 'r');
  try {
    for (const planned of plan) {
      if (failure !== undefined || opts.signal?.aborted) break;
      while (inFlight.size >= opts.concurrency) await Promise.race(inFlight);
      if (failure !== undefined || opts.signal?.aborted) break;
      const body = await readPart(handle, planned, file.path);
      fileHash.update(body);
      const partSha = createHash('sha256').update(body).digest('hex');
      const done = finished.get(planned.number);
      if (done && done.sha256 === partSha) {
        bytesReused += planned.size;
        continue;
      }
      const server = adoptable.get(planned.number);
      if (server && server.etag === md5Hex(body)) {
        finished.set(planned.number, {
          number: planned.number,
          etag: server.etag,
          size: planned.size,
          sha256: partSha,
        });
        bytesReused += planned.size;
        opts.onProgress?.(checkpoint());
        continue;
      }
      const task = retry(`UploadPart ${planned.number}/${plan.length}`, () =>
        ops.uploadPart(bucket, key, id, planned.number, body, partSha),
      )
        .then((res) => {
          finished.set(planned.number, { number: planned.number, etag: res.etag, size: planned.size, sha256: partSha });
          bytesSent += planned.size;
          opts.onProgress?.(checkpoint());
        })
        .catch((err: unknown) => {
          failure ??= err;
        })
        .finally(() => {
          inFlight.delete(task);
        });
      inFlight.add(task);
    }
    await Promise.all(inFlight);
  } finally {
    await handle.close();
  }
  if (failure !== undefined) throw failure;
  if (finished.size < plan.length) throw new UploadAbortedError(finished.size);

  // 4. The bytes read must be the object the caller named; otherwise nothing is published.
  const actualSha = fileHash.digest('hex');
  if (actualSha !== file.sha256) {
    await abortQuietly(ops, bucket, key, id, retry);
    throw new ContentMismatchError(
      `${file.path}: sha256 is ${actualSha}, expected ${file.sha256} (the file changed or the given hash is wrong); upload aborted`,
      { bucket, key, expected: file.sha256, actual: actualSha },
    );
  }

  // 5. Complete. A lost response makes the retry answer NoSuchUpload: the stat below decides.
  const parts = [...finished.values()].sort((a, b) => a.number - b.number);
  let etag: string | undefined;
  try {
    etag = (await retry('CompleteMultipartUpload', () => ops.completeMultipart(bucket, key, id, parts))).etag;
  } catch (err) {
    if (!isNoSuchUpload(err)) throw err;
  }
  const stat = await retry('HeadObject', () => ops.stat(bucket, key));
  const expectedEtag = expectedMultipartEtag(parts.map((p) => p.etag));
  const problems: string[] = [];
  if (!stat) problems.push('object missing after CompleteMultipartUpload');
  else {
    if (stat.size !== file.size) problems.push(`size: expected ${file.size}, got ${stat.size}`);
    if (stat.metadata.sha256 !== file.sha256)
      problems.push(`metadata sha256: expected ${file.sha256}, got ${stat.metadata.sha256 ?? '(none)'}`);
    if (expectedEtag && stat.etag !== expectedEtag)
      problems.push(`ETag: expected ${expectedEtag} from ${parts.length} parts, got ${stat.etag}`);
  }
  if (problems.length > 0) {
    throw new StorageError(`verify s3://${bucket}/${key}: ${problems.join('; ')}`, {
      operation: 'Verify',
      bucket,
      key,
      retryable: false,
    });
  }
  return { etag: etag ?? stat?.etag ?? '', uploadId: id, parts: parts.length, bytesSent, bytesReused, abortedUploads };
}

async function readPart(handle: FileHandle, part: PlannedPart, path: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(part.size);
  let filled = 0;
  while (filled < part.size) {
    const { bytesRead } = await handle.read(buf, filled, part.size - filled, part.offset + filled);
    if (bytesRead === 0) {
      throw new ContentMismatchError(
        `${path}: ended at byte ${part.offset + filled}, expected part ${part.number} to reach ${part.offset + part.size}`,
        { bucket: '', key: '', expected: String(part.offset + part.size), actual: String(part.offset + filled) },
      );
    }
    filled += bytesRead;
  }
  return buf;
}

async function abortQuietly(
  ops: S3Operations,
  bucket: string,
  key: string,
  uploadId: string,
  retry: <T>(operation: string, fn: () => Promise<T>) => Promise<T>,
): Promise<void> {
  try {
    await retry('AbortMultipartUpload', () => ops.abortMultipart(bucket, key, uploadId));
  } catch (err) {
    if (!isNoSuchUpload(err)) throw err;
  }
}
