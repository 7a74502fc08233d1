/**
 * `doctor`: for each service, its endpoint, whether it answers, its version and what is missing.
 * Reports never contain a secret: endpoints are printed without credentials, keys are not printed.
 */
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_NAMES } from '../common/constants';
import type { PipelineConfig } from '../config/environment';
import { MlflowClient } from '../registry/mlflow-client';
import { createMinioClient } from '../storage/minio-client';

export interface ServiceReport {
  service: 'temporal' | 'minio' | 'mlflow';
  endpoint: string;
  reachable: boolean;
  version: string | undefined;
  missing: string[];
  error?: string;
}

export interface DoctorReport {
  ok: boolean;
  services: ServiceReport[];
}

const PROBE_TIMEOUT_MS = 5_000;

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}

async function checkTemporal(config: PipelineConfig): Promise<ServiceReport> {
  const report: ServiceReport = { service: 'temporal', endpoint: config.temporal.address, reachable: false, version: undefined, missing: [] };
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address: config.temporal.address, connectTimeout: PROBE_TIMEOUT_MS });
    const info = await connection.workflowService.getSystemInfo({});
    report.reachable = true;
    report.version = info.serverVersion ?? undefined;
    const namespace = config.temporal.namespace;
    try {
      const attrs = await connection.operatorService.listSearchAttributes({ namespace });
      const have = new Set(Object.keys(attrs.customAttributes ?? {}));
      for (const name of SEARCH_ATTRIBUTE_NAMES) if (!have.has(name)) report.missing.push(`search attribute ${name} (Keyword) in namespace ${namespace}`);
    } catch (err) {
      report.missing.push(`namespace ${namespace} (${describe(err)})`);
    }
  } catch (err) {
    report.error = describe(err);
  } finally {
    await connection?.close();
  }
  return report;
}

async function checkMinio(config: PipelineConfig): Promise<ServiceReport> {
  const endpoint = config.s3.endpoint;
  const report: ServiceReport = { service: 'minio', endpoint, reachable: false, version: undefined, missing: [] };
  try {
    const res = await fetch(`${endpoint.replace(/\/+$/, '')}/minio/health/live`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    report.reachable = true;
    // MinIO names itself in the Server header; another S3 server may not answer this path at all.
    report.version = res.headers.get('server') ?? undefined;
    const client = createMinioClient(config.s3);
    for (const bucket of [config.s3.modelsBucket, config.s3.checkpointsBucket]) {
      if (!(await client.bucketExists(bucket))) report.missing.push(`bucket ${bucket}`);
    }
  } catch (err) {
    if (report.reachable) report.missing.push(`access with the configured credentials (${describe(err)})`);
    else report.error = describe(err);
  }
  return report;
}

async function checkMlflow(config: PipelineConfig): Promise<ServiceReport> {
  const endpoint = config.mlflow.trackingUri;
  const report: ServiceReport = { service: 'mlflow', endpoint, reachable: false, version: undefined, missing: [] };
  try {
    const res = await fetch(`${endpoint.replace(/\/+$/, '')}/health`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    report.reachable = res.ok;
    if (!res.ok) report.error = `/health answered HTTP ${res.status}`;
    report.version = await new MlflowClient(endpoint, config.mlflow.token).serverVersion();
  } catch (err) {
    report.error ??= describe(err);
  }
  return report;
}

export async function runDoctor(config: PipelineConfig): Promise<DoctorReport> {
  const services = await Promise.all([checkTemporal(config), checkMinio(config), checkMlflow(config)]);
  return { ok: services.every((s) => s.reachable && s.missing.length === 0), services };
}

export function formatDoctorReport(report: DoctorReport): string {
  const lines = report.services.map((s) => {
    const state = s.reachable ? 'reachable' : 'UNREACHABLE';
    const version = s.version ? ` version ${s.version}` : '';
    const problems = [...(s.error ? [s.error] : []), ...s.missing.map((m) => `missing: ${m}`)];
    return `${s.service.padEnd(9)}${s.endpoint.padEnd(28)}${state}${version}${problems.map((p) => `\n         - ${p}`).join('')}`;
  });
  lines.push(report.ok ? 'all services ready' : 'some services are not ready (see above)');
  return lines.join('\n');
}
