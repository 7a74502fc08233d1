/**
 * All activities, built once per worker from shared clients (Temporal's dependency-injection
 * pattern): workflows type their proxies with `Activities`. One file per stage of the export, named
 * after it, plus the helpers its workflows call (the Web UI link, waiting for an existing export)
 * and the stack smoke check.
 */
import type { Client } from '@temporalio/client';
import type { PipelineConfig } from '../config/environment';
import { createMlflowClient } from '../registry/mlflow-client';
import { createMinioClient } from '../storage/minio-client';
import { ContentAddressedStore } from '../storage/object-store';
import { minioS3Operations } from '../storage/s3-operations';
import { connectClient } from '../temporal/connect';
import { localArtifact } from '../workspace/local-files';
import { workDirOf } from '../workspace/work-cache';
import { createAwaitExistingExportActivity } from './await-existing-export';
import { createBenchmarkLatencyActivity } from './benchmark-latency';
import { createCheckParityActivity } from './check-parity';
import { createEmitGraphActivity } from './emit-graph';
import { createGpuQueuePollersActivity } from './gpu-queue-pollers';
import { createPromoteModelActivities } from './promote-model';
import { createPublishModelActivity } from './publish-model';
import { createQuantizeGraphActivity } from './quantize-graph';
import { createRegisterModelActivity } from './register-model';
import { createStackSmokeActivities } from './stack-smoke';
import { createValidateStructureActivity } from './validate-structure';
import { createWorkflowUiLinkActivity } from './workflow-ui-link';

export function createActivities(config: PipelineConfig) {
  const minio = createMinioClient(config.s3);
  const mlflow = createMlflowClient(config.mlflow);
  const store = new ContentAddressedStore(minioS3Operations(minio), {
    bucket: config.s3.modelsBucket,
    ...(config.upload.partSizeBytes !== undefined ? { partSize: config.upload.partSizeBytes } : {}),
  });
  const work = workDirOf(config);
  const temporalClient = lazyClient(config);
  return {
    ...createEmitGraphActivity({ minio, store, work }),
    ...createValidateStructureActivity({ minio, work }),
    ...createCheckParityActivity({ minio, store, work }),
    ...createQuantizeGraphActivity({ minio, store, work }),
    ...createBenchmarkLatencyActivity({ resolveModelPath: artifactResolver(config) }),
    ...createPublishModelActivity({ store, minio, work }),
    ...createRegisterModelActivity({ mlflow }),
    ...createPromoteModelActivities({ mlflow }),
    ...createWorkflowUiLinkActivity(config),
    ...createAwaitExistingExportActivity(temporalClient),
    ...createGpuQueuePollersActivity(temporalClient),
    ...createStackSmokeActivities({ minio, bucket: config.s3.modelsBucket, mlflow }),
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
