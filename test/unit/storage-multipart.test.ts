/** Unit: part planning, checkpoint judgement, retry classification and the resumable uploader over a fake S3. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  expectedMultipartEtag,
  uploadFileMultipart,
  type MultipartUploadOptions,
} from '../../storage/multipart-upload';
import { choosePartSize, planParts, S3_LIMITS } from '../../storage/part-plan';
import { backoffDelay } from '../../common/retry-backoff';
import { isRetryableStorageError, withStorageRetry } from '../../storage/retry';
import { ContentMismatchError, StorageError, StorageInputError, UploadAbortedError } from '../../storage/storage-error';
import { judgeCheckpoint, type UploadCheckpoint } from '../../storage/upload-checkpoint';
import { modelDirectoryPrefix, parseS3Uri, stagingKey, validateModelName } from '../../storage/object-keys';
import { FakeS3 } from './storage-fake-s3';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

describe('planParts / choosePartSize', () => {
  it.each([
    [0, PART, [[1, 0, 0]]],
    [PART, PART, [[1, 0, PART]]],
    [
      PART + 1,
      PART,
      [
        [1, 0, PART],
        [2, PART, 1],
      ],
    ],
    [
      3 * PART - 7,
      PART,
      [
        [1, 0, PART],
        [2, PART, PART],
        [3, 2 * PART, PART - 7],
      ],
    ],
  ])('%i bytes in %i-byte parts', (size, partSize, expected) => {
    expect(planParts(size, partSize).map((p) => [p.number, p.offset, p.size])).toEqual(expected);
  });

  it('raises the part size so no file needs more than 10,000 parts', () => {
    const size = 200 * 1024 ** 3;
    const ps = choosePartSize(size, 16 * MiB);
    expect(ps % MiB).toBe(0);
    expect(Math.ceil(size / ps)).toBeLessThanOrEqual(S3_LIMITS.maxParts);
    expect(choosePartSize(786_000_000, 16 * MiB)).toBe(16 * MiB);
  });

  it('refuses a part size below the 5 MiB S3 minimum, naming the field', () => {
    expect(() => choosePartSize(10, MiB)).toThrow(/partSize: expected an integer between 5242880/);
  });
});

describe('object keys and names', () => {
  it.each(['../x', 'a/b', 'x\u0001y', '', '.hidden', 'a..b', 'x'.repeat(129), 'name with space'])(
    'refuses model name %j',
    (bad) => {
      expect(() => validateModelName(bad)).toThrow(StorageInputError);
    },
  );
  it('builds content-addressed keys', () => {
    const sha = 'a'.repeat(64);
    expect(stagingKey(sha)).toBe(`staging/${sha}/model.onnx`);
    expect(modelDirectoryPrefix('heimdall-localization-onnx', sha)).toBe(`models/heimdall-localization-onnx/${sha}/`);
    expect(() => stagingKey('A'.repeat(64))).toThrow(/sha256: expected 64 lowercase hex/);
    expect(parseS3Uri('s3://heimdall-models/models/x/')).toEqual({ bucket: 'heimdall-models', key: 'models/x/' });
    expect(() => parseS3Uri('http://x/y')).toThrow(/expected s3:\/\/<bucket>\/<key>/);
  });
});

describe('judgeCheckpoint', () => {
  const target = { bucket: 'b', key: 'k', sha256: 'c'.repeat(64), size: 2 * PART + 3, partSize: PART };
  const plan = planParts(target.size, PART);
  const cp = (over: Partial<UploadCheckpoint> = {}): UploadCheckpoint => ({
    version: 1,
    ...target,
    uploadId: 'u1',
    parts: [{ number: 1, etag: 'e', size: PART, sha256: 'd'.repeat(64) }],
    ...over,
  });
  it('accepts its own checkpoint', () => expect(judgeCheckpoint(cp(), target, plan).kind).toBe('resumable'));
  it('has none for undefined', () => expect(judgeCheckpoint(undefined, target, plan).kind).toBe('none'));
  it.each([
    ['a string', 'nope', /expected an object/],
    ['a wrong version', { ...cp(), version: 2 }, /checkpoint.version: expected 1, got 2/],
    ['a missing upload id', { ...cp(), uploadId: '' }, /checkpoint.uploadId/],
    ['a bad part', { ...cp(), parts: [{ number: 1 }] }, /checkpoint.parts\[0\]/],
  ])('calls %s malformed', (_what, value, reason) => {
    const v = judgeCheckpoint(value, target, plan);
    expect(v.kind).toBe('malformed');
    expect(v.kind === 'malformed' && v.reason).toMatch(reason);
  });
  it.each([
    ['another key', { key: 'other' }, /checkpoint.key: expected "k"/],
    ['another sha256', { sha256: 'e'.repeat(64) }, /checkpoint.sha256/],
    ['another part size', { partSize: 2 * PART }, /checkpoint.partSize/],
    [
      'a part of the wrong size',
      { parts: [{ number: 3, etag: 'e', size: PART, sha256: 'd'.repeat(64) }] },
      /part 3: expected size 3/,
    ],
    [
      'a part beyond the plan',
      { parts: [{ number: 9, etag: 'e', size: PART, sha256: 'd'.repeat(64) }] },
      /part number in 1..3/,
    ],
  ])('calls a checkpoint of %s foreign', (_what, over, reason) => {
    const v = judgeCheckpoint(cp(over as Partial<UploadCheckpoint>), target, plan);
    expect(v.kind).toBe('foreign');
    expect(v.kind === 'foreign' && v.reason).toMatch(reason);
  });
});

describe('retry classification', () => {
  it.each([
    [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true],
    [Object.assign(new Error('x'), { code: 'EPIPE' }), true],
    [Object.assign(new Error('Please reduce your request rate.'), { code: 'SlowDown' }), true],
    [Object.assign(new Error('We encountered an internal error'), { code: 'InternalError' }), true],
    [new Error('Request failed after 1 retries: Error: Retryable HTTP status: 503'), true],
    [Object.assign(new Error('nope'), { code: 'AccessDenied' }), false],
    [Object.assign(new Error('nope'), { code: 'NoSuchBucket' }), false],
    [Object.assign(new Error('nope'), { code: 'NoSuchUpload' }), false],
    [new TypeError('bad argument'), false],
  ])('%s → retryable %s', (err, expected) => expect(isRetryableStorageError(err)).toBe(expected));

  it('retries transient errors with growing backoff, then gives up with a StorageError naming the object', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const err = await withStorageRetry(
      { operation: 'PutObject', bucket: 'b', key: 'k' },
      { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 250 },
      async () => {
        calls++;
        throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
      },
      {
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      },
    ).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(sleeps).toHaveLength(3);
    expect(sleeps.every((ms, i) => ms <= [100, 200, 250][i]!)).toBe(true);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).message).toBe('PutObject s3://b/k: ECONNRESET: reset (gave up after 4 attempt(s))');
    expect((err as StorageError).retryable).toBe(true);
  });

  it('does not retry a 4xx', async () => {
    let calls = 0;
    const err = await withStorageRetry(
      { operation: 'PutObject', bucket: 'b', key: 'k' },
      { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 1 },
      async () => {
        calls++;
        throw Object.assign(new Error('Access Denied.'), { code: 'AccessDenied' });
      },
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect((err as StorageError).context).toMatchObject({ code: 'AccessDenied', retryable: false, attempts: 1 });
  });

  it('backoff is jittered within [cap/2, cap]', () => {
    const p = { maxAttempts: 9, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, p, () => 0)).toBe(50);
    expect(backoffDelay(3, p, () => 1)).toBe(400);
    expect(backoffDelay(8, p, () => 1)).toBe(1000);
  });
});

describe('uploadFileMultipart over a fake S3', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-unit-'));
  const size = 3 * PART + 1234;
  const body = randomBytes(size);
  const path = join(dir, 'f.bin');
  writeFileSync(path, body);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const file = { path, size, sha256 };
  const dest = { bucket: 'b', key: 'staging/x/model.onnx' };
  const base: MultipartUploadOptions = {
    partSize: PART,
    concurrency: 2,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
    staleUploadAgeMs: 60_000,
    sleep: async () => {},
  };

  it('uploads all parts, completes, and verifies size, sha256 metadata and the multipart ETag', async () => {
    const s3 = new FakeS3();
    const seen: number[] = [];
    const out = await uploadFileMultipart(s3, file, dest, { ...base, onProgress: (cp) => seen.push(cp.parts.length) });
    expect(out).toMatchObject({ parts: 4, bytesSent: size, bytesReused: 0 });
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    const obj = s3.objects.get('b/staging/x/model.onnx');
    expect(obj?.body.equals(body)).toBe(true);
    expect(obj?.metadata.sha256).toBe(sha256);
  });

  it('resumes from a checkpoint: only missing parts are sent', async () => {
    const s3 = new FakeS3();
    const ac = new AbortController();
    let cp: UploadCheckpoint | undefined;
    await expect(
      uploadFileMultipart(s3, file, dest, {
        ...base,
        concurrency: 1,
        signal: ac.signal,
        onProgress: (c) => {
          cp = c;
          if (c.parts.length === 2) ac.abort();
        },
      }),
    ).rejects.toBeInstanceOf(UploadAbortedError);
    s3.partBytes = 0;
    s3.calls = [];
    const out = await uploadFileMultipart(s3, file, dest, { ...base, resumeFrom: cp });
    expect(out).toMatchObject({ bytesReused: 2 * PART, bytesSent: size - 2 * PART });
    expect(s3.calls.filter((c) => c.startsWith('uploadPart')).sort()).toEqual(['uploadPart:3', 'uploadPart:4']);
    expect(s3.calls).not.toContain('initiate');
  });

  it('a checkpoint part the server disagrees with is not trusted: adopted only when the server copy matches the file, else re-sent', async () => {
    const s3 = new FakeS3();
    const ac = new AbortController();
    let cp: UploadCheckpoint | undefined;
    await uploadFileMultipart(s3, file, dest, {
      ...base,
      concurrency: 1,
      signal: ac.signal,
      onProgress: (c) => {
        cp = c;
        if (c.parts.length === 2) ac.abort();
      },
    }).catch(() => undefined);
    const tampered = { ...cp!, parts: cp!.parts.map((p) => (p.number === 1 ? { ...p, etag: '0'.repeat(32) } : p)) };
    s3.calls = [];
    const out = await uploadFileMultipart(s3, file, dest, { ...base, resumeFrom: tampered });
    // part 1 is on the server with its real md5, so it is adopted rather than re-sent
    expect(out.bytesReused).toBe(2 * PART);
    expect(s3.objects.get('b/staging/x/model.onnx')?.body.equals(body)).toBe(true);

    const s3b = new FakeS3();
    const ac2 = new AbortController();
    let cp2: UploadCheckpoint | undefined;
    await uploadFileMultipart(s3b, file, dest, {
      ...base,
      concurrency: 1,
      signal: ac2.signal,
      onProgress: (c) => {
        cp2 = c;
        if (c.parts.length === 2) ac2.abort();
      },
    }).catch(() => undefined);
    s3b.uploads.get(cp2!.uploadId)!.parts.set(1, randomBytes(PART)); // the server's part 1 is not our bytes
    s3b.calls = [];
    const out2 = await uploadFileMultipart(s3b, file, dest, { ...base, resumeFrom: cp2 });
    expect(s3b.calls.filter((c) => c.startsWith('uploadPart')).sort()).toEqual([
      'uploadPart:1',
      'uploadPart:3',
      'uploadPart:4',
    ]);
    expect(out2.bytesReused).toBe(PART);
    expect(s3b.objects.get('b/staging/x/model.onnx')?.body.equals(body)).toBe(true);
  });

  it('aborts incomplete uploads of the key older than the stale age, keeps young ones', async () => {
    const s3 = new FakeS3();
    const old = await s3.initiateMultipart('b', dest.key, {});
    const young = await s3.initiateMultipart('b', dest.key, {});
    s3.uploads.get(old)!.initiated = new Date(Date.now() - 120_000);
    const out = await uploadFileMultipart(s3, file, dest, base);
    expect(out.abortedUploads).toEqual([old]);
    expect(s3.uploads.has(young)).toBe(true);
  });

  it('refuses to complete when the file is not the sha256 it was said to be, and aborts the upload', async () => {
    const s3 = new FakeS3();
    const err = await uploadFileMultipart(s3, { ...file, sha256: 'f'.repeat(64) }, dest, base).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContentMismatchError);
    expect(s3.uploads.size).toBe(0);
    expect(s3.objects.size).toBe(0);
  });

  it('a lost CompleteMultipartUpload answer is settled by the stat', async () => {
    const s3 = new FakeS3();
    let failed = false;
    const realComplete = s3.completeMultipart.bind(s3);
    s3.completeMultipart = async (...args) => {
      const res = await realComplete(...args);
      if (!failed) {
        failed = true;
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      }
      return res;
    };
    const out = await uploadFileMultipart(s3, file, dest, base);
    expect(out.parts).toBe(4);
    expect(s3.objects.get('b/staging/x/model.onnx')?.body.equals(body)).toBe(true);
  });

  it('a non-retryable part error fails the upload with the part named', async () => {
    const s3 = new FakeS3();
    s3.failWith = (call, n) =>
      call === 'uploadPart' && n === 2 ? Object.assign(new Error('denied'), { code: 'AccessDenied' }) : undefined;
    const err = await uploadFileMultipart(s3, file, dest, base).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as StorageError).context).toMatchObject({ operation: 'UploadPart 2/4', retryable: false });
  });

  it('computes MinIO/S3 multipart ETags', () => {
    const a = createHash('md5').update('a').digest('hex');
    const b = createHash('md5').update('b').digest('hex');
    const want = createHash('md5')
      .update(Buffer.concat([Buffer.from(a, 'hex'), Buffer.from(b, 'hex')]))
      .digest('hex');
    expect(expectedMultipartEtag([a, b])).toBe(`${want}-2`);
    expect(expectedMultipartEtag(['not-md5'])).toBeUndefined();
  });
});
