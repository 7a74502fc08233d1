/**
 * Test helper: fails an integration suite at once, with the endpoint and the command to run, when
 * the stack it needs is not reachable. Integration tests never skip.
 */
import type { PipelineConfig } from '../../config/environment';

export async function requireMinio(config: PipelineConfig, check: () => Promise<boolean>): Promise<void> {
  let ok = false;
  let why = '';
  try {
    ok = await check();
    why = ok ? '' : `bucket '${config.s3.modelsBucket}' does not exist`;
  } catch (err) {
    why = err instanceof Error ? err.message : String(err);
  }
  if (!ok) {
    throw new Error(`MinIO at ${config.s3.endpoint} is not usable (${why}). Start the stack: bash scripts/stack.sh up`);
  }
}

export async function requireMlflow(config: PipelineConfig): Promise<void> {
  try {
    const res = await fetch(`${config.mlflow.trackingUri.replace(/\/+$/, '')}/health`, {
      signal: AbortSignal.timeout(5_000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    throw new Error(
      `MLflow at ${config.mlflow.trackingUri} is not reachable (${err instanceof Error ? err.message : String(err)}). Start the stack: bash scripts/stack.sh up`,
    );
  }
}
