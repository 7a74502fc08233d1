/**
 * The foundation's first path through the real servers: an object written to and read back from
 * MinIO, and a registered model created (if missing) and read back from MLflow. It proves that a
 * worker's credentials and endpoints work before any export runs; it publishes nothing. Failures go
 * through failures.ts: other bytes read back are ObjectMismatch (final), refused credentials or
 * TLS are ServiceAuthFailed / ServiceTlsFailed (final).
 */
import type { Client as MinioClient } from 'minio';
import type { MlflowClient } from '../registry/mlflow-client';
import { RegisteredModelMissingError } from '../registry/registry-error';
import { writeAndReadBack, type ReadBackObject } from '../storage/read-back';
import { toActivityFailure } from './failures';

export interface SmokeDeps {
  minio: MinioClient;
  bucket: string;
  mlflow: MlflowClient;
}

export type ObjectRoundTrip = ReadBackObject;

export interface RegisteredModelCheck {
  name: string;
  createdAt: number | undefined;
  serverVersion: string;
}

export function createStackSmokeActivities(deps: SmokeDeps) {
  return {
    /** Writes `payload` under `key`, reads it back and fails unless the bytes match. */
    async writeAndReadBackObject(key: string, payload: string): Promise<ObjectRoundTrip> {
      try {
        return await writeAndReadBack(deps.minio, deps.bucket, key, Buffer.from(payload, 'utf8'));
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** Creates the registered model unless it exists, then reads it back by name. */
    async createAndReadRegisteredModel(name: string): Promise<RegisteredModelCheck> {
      try {
        await deps.mlflow.ensureRegisteredModel(name, 'Created by onnx-export stack smoke check');
        const model = await deps.mlflow.getRegisteredModel(name);
        if (!model) throw new RegisteredModelMissingError(name, 'was created but cannot be read back');
        return {
          name: model.name,
          createdAt: model.creation_timestamp,
          serverVersion: await deps.mlflow.serverVersion(),
        };
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}
