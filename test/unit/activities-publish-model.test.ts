/** Unit: the publish stage's activity refuses an artifact outside the models bucket, non-retryably. */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import type { Client as MinioClient } from 'minio';
import { createPublishModelActivity } from '../../activities/publish-model';
import { CACHE_DEFAULTS } from '../../workspace/work-cache';
import { ContentAddressedStore } from '../../storage/object-store';
import { FakeS3 } from './storage-fake-s3';

const sha256 = 'a'.repeat(64);
const signature = {
  inputs: [{ name: 'mel_spectrogram', dtype: 'float32', shape: [-1, 3, 128, 32] }],
  outputs: [{ name: 'positions', dtype: 'float32', shape: [-1, 2] }],
};

describe('publishModel activity', () => {
  it('publishModel refuses an artifact outside the models bucket', async () => {
    const store = new ContentAddressedStore(new FakeS3(), { bucket: 'b' });
    // Refused before any download: the MinIO client and the work folder are never touched.
    const acts = createPublishModelActivity({
      store,
      minio: {} as MinioClient,
      work: { root: '/nonexistent', limits: CACHE_DEFAULTS },
    });
    const err = await new MockActivityEnvironment()
      .run(acts.publishModel, {
        artifact: { uri: `s3://other/staging/${sha256}/model.onnx`, sha256, bytes: 1 },
        modelName: 'm',
        signature,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as Error).message).toContain("an object in the models bucket 'b'");
  });
});
