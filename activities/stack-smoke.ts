/**
 * The foundation's first path through the real servers: an object written to and read back from
 * MinIO, and a registered model created (if missing) and read back from MLflow. It proves that a
 * worker's credentials and endpoints work before any export runs; it publishes nothing.
 */
import { createHash } from 'node:crypto';
import type { Client as MinioClient } from 'minio';
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES } from '../common/failure-types';
import type { MlflowClient } from '../registry/mlflow-client';

export interface SmokeDeps {
  minio: MinioClient;
  bucket: string;
  mlflow: MlflowClient;
}

export interface ObjectRoundTrip {
  uri: string;
  bytes: number;
  sha256: string;
}

export interface RegisteredModelCheck {
  name: string;
  createdAt: number | undefined;
  serverVersion: string;
}

export function createStackSmokeActivities(deps: SmokeDeps) {
  return {
    /** Writes `payload` under `key`, reads it back and fails unless the bytes match. */
    async writeAndReadBackObject(key: string, payload: string): Promise<ObjectRoundTrip> {
      const body = Buffer.from(payload, 'utf8');
      const sha256 = createHash('sha256').update(body).digest('hex');
      await deps.minio.putObject(deps.bucket, key, body, body.length, { 'x-amz-meta-sha256': sha256 });
      const stream = await deps.minio.getObject(deps.bucket, key);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const readBack = Buffer.concat(chunks);
      const readSha = createHash('sha256').update(readBack).digest('hex');
      if (readSha !== sha256) {
        throw ApplicationFailure.nonRetryable(
          `s3://${deps.bucket}/${key}: read back sha256 ${readSha}, wrote ${sha256}`,
          FAILURE_TYPES.objectMismatch,
        );
      }
      return { uri: `s3://${deps.bucket}/${key}`, bytes: readBack.length, sha256 };
    },

    /** Creates the registered model unless it exists, then reads it back by name. */
    async createAndReadRegisteredModel(name: string): Promise<RegisteredModelCheck> {
      await deps.mlflow.ensureRegisteredModel(name, 'Created by onnx-export stack smoke check');
      const model = await deps.mlflow.getRegisteredModel(name);
      if (!model) throw new Error(`MLflow registered model '${name}' was created but cannot be read back`);
      return {
        name: model.name,
        createdAt: model.creation_timestamp,
        serverVersion: await deps.mlflow.serverVersion(),
      };
    },
  };
}
