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
import { createExportStageActivities } from './export-stages';
import { localArtifact } from './local-files';
import { workDirOf } from './work-cache';
import { createWorkflowLinkActivities } from './workflow-links';
import { createAwaitExportActivities } from './await-export';
import { connectClient } from '../client/temporal-client';
import type { Client } from '@temporalio/client';

export function createActivities(config: PipelineConfig) {
  const minio = createMinioClient(config.s3);
  const mlflow = new MlflowClient(config.mlflow.trackingUri, config.mlflow.token);
  const store = new ContentAddressedStore(minioS3Operations(minio), {
    bucket: config.s3.modelsBucket,
    ...(config.upload.partSizeBytes !== undefined ? { partSize: config.upload.partSizeBytes } : {}),
  });
  return {
    ...createExportStageActivities({ minio, store, work: workDirOf(config) }),
    ...createWorkflowLinkActivities(config),
    ...createAwaitExportActivities(lazyClient(config)),
    ...createSmokeActivities({ minio, bucket: config.s3.modelsBucket, mlflow }),
    ...createUploadActivities({ store }),
    ...createRegistryActivities({ mlflow }),
    ...createBenchmarkActivities({ resolveModelPath: artifactResolver(config) }),
  };
}

/** One Temporal client per worker, made on first use (most activities never need one). */
function lazyClient(config: PipelineConfig): () => Promise<Client> {
  let client: Promise<Client> | undefined;
  return () => (client ??= connectClient(config));
}

/** Turns an artifact's s3:// URI into a verified local file (the worker's cache by sha256). */
export function artifactResolver(config: PipelineConfig): (ref: { uri: string; sha256?: string }) => Promise<string> {
  const minio = createMinioClient(config.s3);
  const work = workDirOf(config);
  return (ref) => localArtifact(minio, work, ref);
}

export type Activities = ReturnType<typeof createActivities>;
