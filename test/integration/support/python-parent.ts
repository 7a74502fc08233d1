/**
 * The environment the Python training parents (workflows/python/) run with in tests: the stack's
 * Temporal (address and namespace) and, for a parent that uploads its bundle itself, its object
 * store and checkpoints bucket. Nothing else: the parents read their settings from these variables.
 */
import type { PipelineConfig } from '../../../config/environment';

export function pythonParentEnv(config: PipelineConfig, options: { objectStore?: boolean } = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TEMPORAL_ADDRESS: config.temporal.address,
    TEMPORAL_NAMESPACE: config.temporal.namespace,
    ...(options.objectStore
      ? {
          AWS_ENDPOINT_URL_S3: config.s3.endpoint,
          AWS_ACCESS_KEY_ID: config.s3.accessKey,
          AWS_SECRET_ACCESS_KEY: config.s3.secretKey,
          ONNX_EXPORT_CHECKPOINT_BUCKET: config.s3.checkpointsBucket,
        }
      : {}),
  };
}
