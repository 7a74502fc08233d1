/**
 * The content-addressed object store: files go in under a key derived from their sha256, with the
 * hash in the object's metadata. Every write stats first and sends nothing when the object is
 * already there with the same sha256; large files go through the resumable multipart uploader,
 * small ones as a single PUT; publishing is a server-side copy. All calls retry transient errors.
 *
 * Independent of Temporal (progress is a callback, resumption an argument). Must not hold more than
 * `concurrency + 1` parts in memory, and must not log or return credentials.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { UPLOAD_DEFAULTS } from '../common/constants';
import { sha256File } from '../hashing/file-sha256';
import type { ArtifactRef } from '../common/export-contract';
import { s3Uri, stagingKey, validateSha256 } from './object-keys';
import { uploadFileMultipart, type MultipartUploadResult } from './multipart-upload';
import { choosePartSize, S3_LIMITS } from './part-plan';
import type { RetryPolicy, Sleep } from '../common/retry-backoff';
import { withStorageRetry } from './retry';
import type { ObjectStat, S3Operations } from './s3-operations';
import { ContentMismatchError, StorageError, StorageInputError } from './storage-error';
import type { UploadCheckpoint } from './upload-checkpoint';

export type { ArtifactRef };

export interface StoreOptions {
  bucket: string;
  partSize?: number;
  concurrency?: number;
  retry?: RetryPolicy;
  staleUploadAgeMs?: number;
  sleep?: Sleep;
}

export interface UploadFileOptions {
  /** The file's sha256 when known (an ArtifactRef's): it is verified while uploading, not trusted. */
  sha256?: string;
  resumeFrom?: unknown;
  onProgress?: (checkpoint: UploadCheckpoint) => void;
  signal?: AbortSignal;
  contentType?: string;
}

export interface UploadOutcome extends ArtifactRef {
  key: string;
  /** `existing`: already stored with this sha256, nothing sent; `put`: one PUT; `multipart`. */
  method: 'existing' | 'put' | 'multipart';
  bytesSent: number;
  bytesReused: number;
  parts: number;
  abortedUploads: string[];
}

export const SHA256_METADATA_KEY = 'sha256';

export class ContentAddressedStore {
  readonly bucket: string;
  private readonly partSize: number;
  private readonly concurrency: number;
  private readonly retryPolicy: RetryPolicy;
  private readonly staleUploadAgeMs: number;
  private readonly sleep: Sleep | undefined;

  constructor(
    private readonly ops: S3Operations,
    opts: StoreOptions,
  ) {
    this.bucket = opts.bucket;
    this.partSize = opts.partSize ?? UPLOAD_DEFAULTS.partSizeBytes;
    this.concurrency = opts.concurrency ?? UPLOAD_DEFAULTS.concurrency;
    this.retryPolicy = opts.retry ?? UPLOAD_DEFAULTS.retry;
    this.staleUploadAgeMs = opts.staleUploadAgeMs ?? UPLOAD_DEFAULTS.staleUploadAgeMs;
    this.sleep = opts.sleep;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1 || this.concurrency > 64) {
      throw new StorageInputError('concurrency', String(this.concurrency), 'an integer in 1..64');
    }
    choosePartSize(0, this.partSize); // validates the part size
  }

  uri(key: string): string {
    return s3Uri(this.bucket, key);
  }

  /** Stages a local ONNX file at `staging/<sha256>/model.onnx`. */
  async stageFile(path: string, opts: UploadFileOptions = {}): Promise<UploadOutcome> {
    await fileSize(path); // a clear input error before anything is read
    const known =
      opts.sha256 !== undefined ? { sha256: validateSha256(opts.sha256, 'sha256') } : await sha256File(path);
    return this.uploadFile(path, stagingKey(known.sha256), { ...opts, sha256: known.sha256 });
  }

  /**
   * Uploads `path` to `key` unless the object is already there with the same sha256. Files up to one
   * part go up as one PUT; larger ones as a resumable multipart upload.
   */
  async uploadFile(path: string, key: string, opts: UploadFileOptions = {}): Promise<UploadOutcome> {
    const size = await fileSize(path);
    const sha256 = opts.sha256 !== undefined ? validateSha256(opts.sha256, 'sha256') : (await sha256File(path)).sha256;
    const ref = { uri: this.uri(key), sha256, bytes: size, key };
    const existing = await this.stat(key);
    if (existing && existing.metadata[SHA256_METADATA_KEY] === sha256 && existing.size === size) {
      return { ...ref, method: 'existing', bytesSent: 0, bytesReused: 0, parts: 0, abortedUploads: [] };
    }
    const partSize = choosePartSize(size, this.partSize);
    if (size <= partSize) {
      const body = await readFile(path);
      await this.putVerified(key, body, sha256, opts.contentType);
      return { ...ref, method: 'put', bytesSent: size, bytesReused: 0, parts: 1, abortedUploads: [] };
    }
    const res: MultipartUploadResult = await uploadFileMultipart(
      this.ops,
      { path, size, sha256 },
      { bucket: this.bucket, key },
      {
        partSize,
        concurrency: this.concurrency,
        retry: this.retryPolicy,
        staleUploadAgeMs: this.staleUploadAgeMs,
        resumeFrom: opts.resumeFrom,
        onProgress: opts.onProgress,
        signal: opts.signal,
        metadata: opts.contentType ? { 'Content-Type': opts.contentType } : {},
        sleep: this.sleep,
      },
    );
    return {
      ...ref,
      method: 'multipart',
      bytesSent: res.bytesSent,
      bytesReused: res.bytesReused,
      parts: res.parts,
      abortedUploads: res.abortedUploads,
    };
  }

  /** Writes a small object (a report, MLmodel) unless the same bytes are already there. */
  async putBytes(key: string, body: Buffer, contentType?: string): Promise<{ sha256: string; written: boolean }> {
    if (body.length > this.partSize) {
      throw new StorageInputError(
        `putBytes(${key}).length`,
        String(body.length),
        `at most ${this.partSize} bytes (use uploadFile for large objects)`,
      );
    }
    const sha256 = createHash('sha256').update(body).digest('hex');
    const existing = await this.stat(key);
    if (existing && existing.metadata[SHA256_METADATA_KEY] === sha256 && existing.size === body.length)
      return { sha256, written: false };
    await this.putVerified(key, body, sha256, contentType);
    return { sha256, written: true };
  }

  /**
   * Server-side copy of `srcKey` to `dstKey`, both in this bucket; the source must carry
   * `expectedSha256`. Skipped when the destination already holds it.
   */
  async copyObject(
    srcKey: string,
    dstKey: string,
    expectedSha256: string,
  ): Promise<{ copied: boolean; bytes: number }> {
    validateSha256(expectedSha256, 'expectedSha256');
    const dst = await this.stat(dstKey);
    if (dst && dst.metadata[SHA256_METADATA_KEY] === expectedSha256) return { copied: false, bytes: dst.size };
    const src = await this.stat(srcKey);
    if (!src) {
      throw new StorageError(`copy ${this.uri(srcKey)}: source object does not exist`, {
        operation: 'CopyObject',
        bucket: this.bucket,
        key: srcKey,
        code: 'NoSuchKey',
        retryable: false,
      });
    }
    if (src.metadata[SHA256_METADATA_KEY] !== expectedSha256) {
      throw new ContentMismatchError(
        `copy ${this.uri(srcKey)}: metadata sha256 is ${src.metadata[SHA256_METADATA_KEY] ?? '(none)'}, expected ${expectedSha256}`,
        { bucket: this.bucket, key: srcKey, expected: expectedSha256, actual: src.metadata[SHA256_METADATA_KEY] ?? '' },
      );
    }
    if (src.size > S3_LIMITS.maxSingleCopySize) {
      throw new StorageInputError(
        `${this.uri(srcKey)} size`,
        String(src.size),
        `at most ${S3_LIMITS.maxSingleCopySize} bytes for a single server-side copy (multipart copy not implemented)`,
      );
    }
    await this.retry('CopyObject', dstKey, () =>
      this.ops.copy({ bucket: this.bucket, key: srcKey, matchEtag: src.etag }, { bucket: this.bucket, key: dstKey }),
    );
    const after = await this.stat(dstKey);
    if (!after || after.size !== src.size || after.metadata[SHA256_METADATA_KEY] !== expectedSha256) {
      throw new StorageError(
        `verify copy ${this.uri(dstKey)}: expected size ${src.size} and sha256 ${expectedSha256}, got ${after ? `size ${after.size}, sha256 ${after.metadata[SHA256_METADATA_KEY] ?? '(none)'}` : 'no object'}`,
        { operation: 'Verify', bucket: this.bucket, key: dstKey, retryable: false },
      );
    }
    return { copied: true, bytes: src.size };
  }

  async stat(key: string): Promise<ObjectStat | undefined> {
    return this.retry('HeadObject', key, () => this.ops.stat(this.bucket, key));
  }

  /** Reads a small object whole (refuses more than `maxBytes`). */
  async readSmall(key: string, maxBytes = 1024 * 1024): Promise<Buffer> {
    return this.retry('GetObject', key, async () => {
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of await this.ops.get(this.bucket, key)) {
        total += (chunk as Buffer).length;
        if (total > maxBytes)
          throw new StorageInputError(`${this.uri(key)} size`, String(total), `at most ${maxBytes} bytes`);
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks);
    });
  }

  /** Streams an object and returns its sha256 and size (for verification by reading). */
  async hashObject(key: string): Promise<{ sha256: string; size: number }> {
    return this.retry('GetObject', key, async () => {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of await this.ops.get(this.bucket, key)) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      return { sha256: hash.digest('hex'), size };
    });
  }

  private async putVerified(key: string, body: Buffer, sha256: string, contentType?: string): Promise<void> {
    const actual = createHash('sha256').update(body).digest('hex');
    if (actual !== sha256) {
      throw new ContentMismatchError(`${this.uri(key)}: content sha256 is ${actual}, expected ${sha256}`, {
        bucket: this.bucket,
        key,
        expected: sha256,
        actual,
      });
    }
    const metadata: Record<string, string> = { [SHA256_METADATA_KEY]: sha256 };
    if (contentType) metadata['Content-Type'] = contentType;
    await this.retry('PutObject', key, () => this.ops.put(this.bucket, key, body, metadata));
  }

  private retry<T>(operation: string, key: string, fn: () => Promise<T>): Promise<T> {
    return withStorageRetry({ operation, bucket: this.bucket, key }, this.retryPolicy, fn, { sleep: this.sleep });
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new StorageInputError('path', path, 'a regular file');
    return s.size;
  } catch (err) {
    if (err instanceof StorageInputError) throw err;
    throw new StorageInputError(
      'path',
      path,
      `a readable file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
}
