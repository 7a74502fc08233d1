/**
 * All activities, built once per worker from shared clients (Temporal's dependency-injection
 * pattern): workflows type their proxies with `ReturnType<typeof createActivities>`.
 */
import type { PipelineConfig } from '../config/environment';
import { MlflowClient } from '../registry/mlflow-client';
import { createMinioClient } from '../storage/minio-client';
import { createBenchmarkActivities } from './benchmark';
import { createSmokeActivities } from './smoke';
import { ContentAddressedStore } from '../storage/object-store';
import { minioS3Operations } from '../storage/s3-operations';
import { createUploadActivities } from './upload';
import { createRegistryActivities } from './registry';

export function createActivities(config: PipelineConfig) {
  const minio = createMinioClient(config.s3);
  const mlflow = new MlflowClient(config.mlflow.trackingUri, config.mlflow.token);
  return {
    ...createSmokeActivities({ minio, bucket: config.s3.modelsBucket, mlflow }),
    ...createUploadActivities({ store: new ContentAddressedStore(minioS3Operations(minio), { bucket: config.s3.modelsBucket }) }),
    ...createRegistryActivities({ mlflow }),
    ...createBenchmarkActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
