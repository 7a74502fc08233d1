/**
 * Before a worker polls: can it use S3 and MLflow with what it was given? A credential or TLS
 * problem (a ServiceAccessError) stops the worker at start-up with that error's message, naming the
 * service, the endpoint and the variable, because every export it took would fail on it. A service
 * that is merely down is reported and the worker starts anyway: its activities retry until it is back.
 * Temporal needs no probe here: the worker's own connection fails the same clear way.
 */
import type { PipelineConfig } from '../config/environment';
import { createMlflowClient } from '../registry/mlflow-client';
import { findServiceAccessError, type ServiceAccessError } from '../config/service-access-error';
import { createMinioClient } from '../storage/minio-client';

const PROBE_TIMEOUT_MS = 5_000;

export interface PreflightOutcome {
  /** What retrying cannot fix; the worker must not start. */
  fatal: ServiceAccessError[];
  /** Services that did not answer now (the activities retry them). */
  unreachable: string[];
}

export async function checkServiceAccess(config: PipelineConfig): Promise<PreflightOutcome> {
  const probes: [string, () => Promise<unknown>][] = [
    ['S3', () => createMinioClient(config.s3).bucketExists(config.s3.modelsBucket)],
    // /version needs a login on an authenticating server: the cheapest call that proves the credentials.
    ['MLflow', () => createMlflowClient(config.mlflow, { timeoutMs: PROBE_TIMEOUT_MS }).serverVersion()],
  ];
  const outcome: PreflightOutcome = { fatal: [], unreachable: [] };
  await Promise.all(
    probes.map(async ([service, probe]) => {
      try {
        await probe();
      } catch (err) {
        const access = findServiceAccessError(err);
        if (access) outcome.fatal.push(access);
        else outcome.unreachable.push(`${service}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }),
  );
  return outcome;
}
