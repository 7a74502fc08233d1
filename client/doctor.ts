/**
 * `doctor`: for each service, its endpoint, whether it answers, its version and what is missing;
 * and how full this machine's work folder is against its bound (ONNX_EXPORT_CACHE_MAX_BYTES).
 * Reports never contain a secret: endpoints are printed without credentials, keys are not printed.
 */
import type { Connection } from '@temporalio/client';
import { isCached, listCache, workDirOf } from '../workspace/work-cache';
import { SEARCH_ATTRIBUTE_NAMES } from '../common/constants';
import type { PipelineConfig } from '../config/environment';
import { describeSecurity } from '../config/describe-security';
import { createMlflowClient } from '../registry/mlflow-client';
import { createMinioClient, probeS3Endpoint } from '../storage/minio-client';
import { connectTemporal } from '../temporal/connect';

export interface ServiceReport {
  service: 'temporal' | 'minio' | 'mlflow';
  endpoint: string;
  reachable: boolean;
  version: string | undefined;
  missing: string[];
  /** Whether TLS and authentication are in use, in words that hold no secret. */
  security: { tls: string; auth: string };
  error?: string;
}

/** This machine's work folder: what a worker started here keeps, against its bound. */
export interface WorkCacheReport {
  root: string;
  cachedBytes: number;
  maxBytes: number;
  /** Cached artifacts and bundles. */
  entries: number;
  /** Scratch folders and partial downloads (crashed activities'; swept once an hour old). */
  leftovers: number;
}

export interface DoctorReport {
  ok: boolean;
  services: ServiceReport[];
  workCache: WorkCacheReport;
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
  const report: ServiceReport = {
    service: 'temporal',
    endpoint: config.temporal.address,
    reachable: false,
    version: undefined,
    missing: [],
    security: { tls: config.temporal.security.tls, auth: config.temporal.security.auth },
  };
  let connection: Connection | undefined;
  try {
    connection = await connectTemporal(config);
    const info = await connection.workflowService.getSystemInfo({});
    report.reachable = true;
    report.version = info.serverVersion ?? undefined;
    const namespace = config.temporal.namespace;
    try {
      const attrs = await connection.operatorService.listSearchAttributes({ namespace });
      const have = new Set(Object.keys(attrs.customAttributes ?? {}));
      for (const name of SEARCH_ATTRIBUTE_NAMES)
        if (!have.has(name)) report.missing.push(`search attribute ${name} (Keyword) in namespace ${namespace}`);
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
  const { s3 } = describeSecurity(config);
  const report: ServiceReport = {
    service: 'minio',
    endpoint: s3.endpoint,
    reachable: false,
    version: undefined,
    missing: [],
    security: { tls: s3.tls, auth: s3.auth },
  };
  try {
    const probe = await probeS3Endpoint(config.s3, '/minio/health/live', PROBE_TIMEOUT_MS);
    report.reachable = true;
    // MinIO names itself in the Server header; another S3 server may not answer this path at all.
    report.version = probe.server;
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
  const { mlflow } = describeSecurity(config);
  const report: ServiceReport = {
    service: 'mlflow',
    endpoint: mlflow.endpoint,
    reachable: false,
    version: undefined,
    missing: [],
    security: { tls: mlflow.tls, auth: mlflow.auth },
  };
  try {
    const client = createMlflowClient(config.mlflow, { timeoutMs: PROBE_TIMEOUT_MS });
    const health = await client.health();
    report.reachable = health.ok;
    if (!health.ok) report.error = `/health answered HTTP ${health.status}`;
    report.version = await client.serverVersion();
  } catch (err) {
    report.error ??= describe(err);
  }
  return report;
}

async function checkWorkCache(config: PipelineConfig): Promise<WorkCacheReport> {
  const work = workDirOf(config);
  const entries = await listCache(work.root);
  const cached = entries.filter(isCached);
  return {
    root: work.root,
    cachedBytes: cached.reduce((n, e) => n + e.bytes, 0),
    maxBytes: work.limits.maxBytes,
    entries: cached.length,
    leftovers: entries.length - cached.length,
  };
}

export async function runDoctor(config: PipelineConfig): Promise<DoctorReport> {
  const [services, workCache] = await Promise.all([
    Promise.all([checkTemporal(config), checkMinio(config), checkMlflow(config)]),
    checkWorkCache(config),
  ]);
  return { ok: services.every((s) => s.reachable && s.missing.length === 0), services, workCache };
}

const GIB = 1024 ** 3;

export function formatDoctorReport(report: DoctorReport): string {
  const lines = report.services.map((s) => {
    const state = s.reachable ? 'reachable' : 'UNREACHABLE';
    const version = s.version ? ` version ${s.version}` : '';
    const problems = [...(s.error ? [s.error] : []), ...s.missing.map((m) => `missing: ${m}`)];
    const security = `\n         TLS ${s.security.tls}; auth ${s.security.auth}`;
    return `${s.service.padEnd(9)}${s.endpoint.padEnd(28)}${state}${version}${security}${problems.map((p) => `\n         - ${p}`).join('')}`;
  });
  const c = report.workCache;
  lines.push(
    `work     ${c.root}\n         ${(c.cachedBytes / GIB).toFixed(2)} GiB cached of ${(c.maxBytes / GIB).toFixed(2)} GiB (${c.entries} models and bundles, ${c.leftovers} leftovers)`,
  );
  lines.push(report.ok ? 'all services ready' : 'some services are not ready (see above)');
  return lines.join('\n');
}
