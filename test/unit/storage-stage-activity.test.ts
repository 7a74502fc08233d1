/** Unit: stageArtifact adapts the uploader to Temporal: checkpoints go out as heartbeats and come back on a retry. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { createUploadActivities, type StageHeartbeat } from '../../activities/upload';
import { ContentAddressedStore } from '../../storage/object-store';
import { FakeS3 } from './storage-fake-s3';

const PART = 5 * 1024 * 1024;

describe('stageArtifact activity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stage-act-'));
  const body = randomBytes(3 * PART + 10);
  const path = join(dir, 'model.onnx');
  writeFileSync(path, body);
  const sha256 = createHash('sha256').update(body).digest('hex');

  it('heartbeats checkpoints; a retry given the last heartbeat sends only the remaining parts', async () => {
    const s3 = new FakeS3();
    let failPart3 = true;
    s3.failWith = (call, n) => {
      if (call === 'uploadPart' && n === 3 && failPart3) { failPart3 = false; return Object.assign(new Error('reset'), { code: 'ECONNRESET' }); }
      return undefined;
    };
    const store = new ContentAddressedStore(s3, { bucket: 'b', partSize: PART, concurrency: 1, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } });
    const acts = createUploadActivities({ store });
    const first = new MockActivityEnvironment();
    const beats: StageHeartbeat[] = [];
    first.on('heartbeat', (d: unknown) => beats.push(d as StageHeartbeat));
    const err = await first.run(acts.stageArtifact, { localPath: path, sha256 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(false);
    const last = beats.at(-1);
    expect(last?.checkpoint.parts.map((p) => p.number)).toEqual([1, 2]);
    expect(last).toMatchObject({ bytesUploaded: 2 * PART, bytesTotal: body.length });

    s3.partBytes = 0;
    const retry = new MockActivityEnvironment({ heartbeatDetails: JSON.parse(JSON.stringify(last)), attempt: 2 });
    const out = await retry.run(acts.stageArtifact, { localPath: path, sha256 });
    expect(out).toMatchObject({ uri: `s3://b/staging/${sha256}/model.onnx`, sha256, bytes: body.length, method: 'multipart', bytesReused: 2 * PART });
    expect(s3.partBytes).toBe(body.length - 2 * PART);
  });

  it('bad input is a non-retryable ApplicationFailure naming the field', async () => {
    const acts = createUploadActivities({ store: new ContentAddressedStore(new FakeS3(), { bucket: 'b' }) });
    const err = await new MockActivityEnvironment().run(acts.stageArtifact, { localPath: path, sha256: 'nope' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toMatch(/^sha256: expected 64 lowercase hex/);
    const missing = await new MockActivityEnvironment().run(acts.stageArtifact, { localPath: join(dir, 'absent.onnx') }).catch((e: unknown) => e);
    expect((missing as ApplicationFailure).nonRetryable).toBe(true);
    expect((missing as Error).message).toMatch(/^path: expected a readable file \(ENOENT\)/);
  });

  it('publishModel refuses an artifact outside the models bucket', async () => {
    const acts = createUploadActivities({ store: new ContentAddressedStore(new FakeS3(), { bucket: 'b' }) });
    const err = await new MockActivityEnvironment().run(acts.publishModel, {
      artifact: { uri: `s3://other/staging/${sha256}/model.onnx`, sha256, bytes: 1 }, modelName: 'm',
    }).catch((e: unknown) => e);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toContain("an object in the models bucket 'b'");
  });
});
