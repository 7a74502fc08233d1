/**
 * Integration: storage/ against the real MinIO of the local stack (loadConfig()). Counts the data
 * bytes the client puts on the wire through an instrumented transport.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/environment';
import { createMinioClient } from '../../storage/minio-client';
import { sha256File } from '../../hashing/file-sha256';
import { ContentAddressedStore } from '../../storage/object-store';
import { minioS3Operations } from '../../storage/s3-operations';
import { StorageError, UploadAbortedError } from '../../storage/storage-error';
import type { UploadCheckpoint } from '../../storage/upload-checkpoint';
import { countingTransport } from './storage-counting-transport';
import { requireMinio } from './stack-reachability';

const MiB = 1024 * 1024;
const PART = 5 * MiB; // S3's minimum part size: the smallest file that still makes several parts
const config = loadConfig();
const counter = countingTransport();
const client = createMinioClient(config.s3, { transport: counter.transport });
const ops = minioS3Operations(client);
const bucket = config.s3.modelsBucket;
const prefix = `test/storage-upload/${randomUUID()}/`;
const noSleep = async () => {};
const store = (concurrency = 1, maxAttempts = 3) =>
  new ContentAddressedStore(ops, {
    bucket,
    partSize: PART,
    concurrency,
    retry: { maxAttempts, baseDelayMs: 10, maxDelayMs: 50 },
    sleep: noSleep,
  });

let dir: string;
let bigFile: string;
let bigSize: number;
let bigSha: string;

/** A fresh random file (its sha256 is new, so its staging key is too). */
function makeFile(name: string, size: number): string {
  const path = join(dir, name);
  writeFileSync(path, randomBytes(size));
  return path;
}

beforeAll(async () => {
  await requireMinio(config, () => client.bucketExists(bucket));
  dir = mkdtempSync(join(tmpdir(), 'storage-upload-'));
  bigSize = 4 * PART + 3 * MiB + 17; // 5 parts, the last one short
  bigFile = makeFile('big.bin', bigSize);
  bigSha = (await sha256File(bigFile)).sha256;
});

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  const keys: string[] = [];
  for await (const o of client.listObjects(bucket, prefix, true)) if (o.name) keys.push(o.name);
  if (keys.length) await client.removeObjects(bucket, keys);
});

async function incompleteUploads(key: string) {
  return (await ops.listIncompleteUploads(bucket, key)).map((u) => u.uploadId);
}

describe('content-addressed staging', () => {
  it('stages a file once: the second upload stats, finds the same sha256 and sends nothing', async () => {
    const path = makeFile('small.onnx', 300_000);
    const { sha256 } = await sha256File(path);
    counter.reset();
    const first = await store().stageFile(path);
    expect(first).toMatchObject({
      method: 'put',
      sha256,
      bytes: 300_000,
      key: `staging/${sha256}/model.onnx`,
      bytesSent: 300_000,
    });
    expect(counter.counts).toMatchObject({ dataPuts: 1, dataBytes: 300_000 });
    const second = await store().stageFile(path, { sha256 });
    expect(second).toMatchObject({ method: 'existing', bytesSent: 0, uri: first.uri });
    expect(counter.counts).toMatchObject({ dataPuts: 1, dataBytes: 300_000 });
    const listed: string[] = [];
    for await (const o of client.listObjects(bucket, `staging/${sha256}/`, true)) if (o.name) listed.push(o.name);
    expect(listed).toEqual([`staging/${sha256}/model.onnx`]);
    expect((await store().hashObject(first.key)).sha256).toBe(sha256);
    await client.removeObject(bucket, first.key);
  });

  it('refuses a file whose content does not match the sha256 it was given, and writes nothing', async () => {
    const path = makeFile('liar.onnx', 1000);
    const wrong = 'ab'.repeat(32);
    await expect(store().stageFile(path, { sha256: wrong })).rejects.toThrow(/sha256 is [0-9a-f]{64}, expected abab/);
    expect(await store().stat(`staging/${wrong}/model.onnx`)).toBeUndefined();
  });
});

describe('resumable multipart upload', () => {
  it('interrupted after 2 of 5 parts, a retry from the checkpoint sends only the 3 remaining parts', async () => {
    const key = `${prefix}interrupted/model.onnx`;
    const abort = new AbortController();
    let last: UploadCheckpoint | undefined;
    counter.reset();
    const first = store(1).uploadFile(bigFile, key, {
      sha256: bigSha,
      signal: abort.signal,
      onProgress: (cp) => {
        last = cp;
        if (cp.parts.length >= 2) abort.abort();
      },
    });
    await expect(first).rejects.toBeInstanceOf(UploadAbortedError);
    expect(last?.parts.map((p) => p.number)).toEqual([1, 2]);
    expect(counter.counts.dataBytes).toBe(2 * PART);

    counter.reset();
    const resumed = await store(1).uploadFile(bigFile, key, {
      sha256: bigSha,
      resumeFrom: JSON.parse(JSON.stringify(last)),
    });
    expect(resumed).toMatchObject({
      method: 'multipart',
      parts: 5,
      bytesReused: 2 * PART,
      bytesSent: bigSize - 2 * PART,
    });
    expect(counter.counts.partNumbers).toEqual([3, 4, 5]);
    expect(counter.counts.dataBytes).toBe(bigSize - 2 * PART);
    expect(await store().hashObject(key)).toEqual({ sha256: bigSha, size: bigSize });
    expect(await incompleteUploads(key)).toEqual([]);
  });

  it('a connection reset mid-part fails the attempt retryably; the retry re-sends only that part', async () => {
    const key = `${prefix}reset/model.onnx`;
    let last: UploadCheckpoint | undefined;
    counter.reset();
    counter.breakPart(4);
    const err = await store(1, 1)
      .uploadFile(bigFile, key, {
        sha256: bigSha,
        onProgress: (cp) => {
          last = cp;
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).retryable).toBe(true);
    expect((err as StorageError).context).toMatchObject({ operation: 'UploadPart 4/5', code: 'ECONNRESET' });
    const wasted = counter.counts.dataBytes - 3 * PART; // the half part that never arrived
    expect(last?.parts.map((p) => p.number)).toEqual([1, 2, 3]);

    counter.reset();
    const resumed = await store(2).uploadFile(bigFile, key, { sha256: bigSha, resumeFrom: last });
    expect(resumed.bytesSent).toBe(bigSize - 3 * PART);
    expect(counter.counts.partNumbers.sort()).toEqual([4, 5]);
    expect(wasted).toBeLessThanOrEqual(PART);
    expect(await store().hashObject(key)).toEqual({ sha256: bigSha, size: bigSize });
  });

  it('the same connection reset is absorbed by the in-process retry with backoff', async () => {
    const key = `${prefix}reset-retried/model.onnx`;
    counter.reset();
    counter.breakPart(2);
    const out = await store(2, 3).uploadFile(bigFile, key, { sha256: bigSha });
    expect(out).toMatchObject({ parts: 5, bytesSent: bigSize });
    expect(counter.counts.partNumbers.filter((n) => n === 2)).toHaveLength(2);
    expect(await store().hashObject(key)).toEqual({ sha256: bigSha, size: bigSize });
  });

  it('parts the server holds but the last checkpoint missed (lost heartbeat) are adopted by their md5, not re-sent', async () => {
    const key = `${prefix}lost-heartbeat/model.onnx`;
    const abort = new AbortController();
    const seen: UploadCheckpoint[] = [];
    await store(1)
      .uploadFile(bigFile, key, {
        sha256: bigSha,
        signal: abort.signal,
        onProgress: (cp) => {
          seen.push(cp);
          if (cp.parts.length >= 3) abort.abort();
        },
      })
      .catch(() => undefined);
    const stale = seen.find((cp) => cp.parts.length === 1);
    expect(stale).toBeDefined();
    counter.reset();
    const out = await store(1).uploadFile(bigFile, key, { sha256: bigSha, resumeFrom: stale });
    expect(out.bytesReused).toBe(3 * PART);
    expect(counter.counts.partNumbers).toEqual([4, 5]);
    expect(await store().hashObject(key)).toEqual({ sha256: bigSha, size: bigSize });
  });

  it('a checkpoint of another object is foreign: its upload is aborted and this upload starts fresh', async () => {
    const otherKey = `${prefix}other/model.onnx`;
    const otherId = await client.initiateNewMultipartUpload(bucket, otherKey, {});
    const foreign: UploadCheckpoint = {
      version: 1,
      bucket,
      key: otherKey,
      sha256: bigSha,
      size: bigSize,
      partSize: PART,
      uploadId: otherId,
      parts: [],
    };
    const key = `${prefix}fresh-after-foreign/model.onnx`;
    counter.reset();
    const out = await store(2).uploadFile(bigFile, key, { sha256: bigSha, resumeFrom: foreign });
    expect(out.abortedUploads).toEqual([otherId]);
    expect(out.bytesSent).toBe(bigSize);
    expect(await incompleteUploads(otherKey)).toEqual([]);
  });

  it('a checkpoint whose upload no longer exists is stale: ignored, the file is sent whole and verified', async () => {
    const key = `${prefix}stale/model.onnx`;
    const abort = new AbortController();
    let last: UploadCheckpoint | undefined;
    await store(1)
      .uploadFile(bigFile, key, {
        sha256: bigSha,
        signal: abort.signal,
        onProgress: (cp) => {
          last = cp;
          if (cp.parts.length >= 1) abort.abort();
        },
      })
      .catch(() => undefined);
    expect(last).toBeDefined();
    await client.abortMultipartUpload(bucket, key, last?.uploadId ?? '');
    counter.reset();
    const out = await store(2).uploadFile(bigFile, key, { sha256: bigSha, resumeFrom: last });
    expect(out.bytesSent).toBe(bigSize);
    expect(await store().hashObject(key)).toEqual({ sha256: bigSha, size: bigSize });
  });
});

describe('publish by server-side copy', () => {
  it('copies staging to models/ without re-sending data, keeps the sha256 metadata, and skips a second copy', async () => {
    const src = `${prefix}copy-src/model.onnx`;
    const dst = `${prefix}copy-dst/model.onnx`;
    await store(2).uploadFile(bigFile, src, { sha256: bigSha });
    counter.reset();
    expect(await store().copyObject(src, dst, bigSha)).toEqual({ copied: true, bytes: bigSize });
    expect(await store().copyObject(src, dst, bigSha)).toEqual({ copied: false, bytes: bigSize });
    expect(counter.counts.dataBytes).toBe(0);
    expect((await store().stat(dst))?.metadata.sha256).toBe(bigSha);
  });

  it('a 4xx (missing bucket) is a clear, non-retryable error naming the bucket and key', async () => {
    const s = new ContentAddressedStore(ops, { bucket: 'no-such-bucket-onnx-export', partSize: PART, sleep: noSleep });
    const err = await s.putBytes('x/y.json', Buffer.from('{}')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/no-such-bucket-onnx-export\/x\/y\.json: NoSuchBucket/);
    expect((err as Error).message).not.toContain(config.s3.secretKey);
  });
});
