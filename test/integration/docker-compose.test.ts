/**
 * docker-compose.yml, checked without a Docker engine: loaded by compose-go (the loader of
 * `docker compose`, built from the Go module proxy by scripts/compose-check.sh), then the resolved
 * project is held to the same contract as the local scripts. No servers are used.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { findProjectRoot } from '../../config/environment';

const run = promisify(execFile);
const root = findProjectRoot();

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | null>;
  ports?: { host_ip?: string; published?: string; target: number }[];
}

// Interpolation must see only the file's defaults, not this machine's credentials or ports.
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(AWS_|MLFLOW_|TEMPORAL_|MINIO_|ONNX_EXPORT_)/.test(k)),
);

describe('docker-compose.yml', () => {
  let services: Record<string, ComposeService>;

  beforeAll(async () => {
    const { stdout } = await run('bash', [join(root, 'scripts', 'compose-check.sh')], {
      env: cleanEnv,
      timeout: 300_000,
    });
    services = (JSON.parse(stdout) as { services: Record<string, ComposeService> }).services;
  });

  it('has the Temporal server with PostgreSQL and its UI, MinIO, MLflow with PostgreSQL, and the workers', () => {
    for (const name of [
      'worker-secured',
      'temporal',
      'temporal-postgresql',
      'temporal-ui',
      'minio',
      'mlflow',
      'mlflow-postgresql',
      'worker',
    ]) {
      expect(services, name).toHaveProperty(name);
    }
  });

  it('publishes every port on 127.0.0.1 only', () => {
    const published = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, ...p })));
    expect(published.length).toBeGreaterThan(0);
    for (const p of published) expect(p.host_ip, `${p.name}:${p.published}`).toBe('127.0.0.1');
  });

  it('gives the worker the same variable names the scripts and the CLI read', () => {
    const env = services.worker?.environment ?? {};
    for (const key of [
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'AWS_ENDPOINT_URL_S3',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'MLFLOW_TRACKING_URI',
      'ONNX_EXPORT_BUCKET',
    ]) {
      expect(env, key).toHaveProperty(key);
    }
    expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(env.AWS_ENDPOINT_URL_S3).toBe('http://minio:9000');
    expect(env.MLFLOW_TRACKING_URI).toBe('http://mlflow:5000');
  });

  it('has a secured worker (profile secured) passing through every TLS and auth variable, unset by default', () => {
    const env = services['worker-secured']?.environment ?? {};
    const secured = [
      'TEMPORAL_API_KEY',
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
      'MLFLOW_TRACKING_USERNAME',
      'MLFLOW_TRACKING_PASSWORD',
      'MLFLOW_TRACKING_TOKEN',
      'MLFLOW_TRACKING_SERVER_CERT_PATH',
      'AWS_SESSION_TOKEN',
      'AWS_CA_BUNDLE',
    ];
    for (const key of secured) expect(env[key], key).toBe('');
    expect(env.ONNX_EXPORT_METRICS_ADDRESS).toBe('0.0.0.0:9464');
  });

  it('rejects a file that breaks the Compose schema (the checker can fail)', async () => {
    const err = await run(
      'bash',
      [join(root, 'scripts', 'compose-check.sh'), join(root, 'test', 'fixtures', 'compose', 'broken.yml')],
      { env: cleanEnv },
    ).then(
      () => undefined,
      (e: { stderr: string }) => e,
    );
    expect(err?.stderr).toMatch(/bogus_key/);
  });
});
