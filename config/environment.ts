/**
 * Where the services are and how to reach them, resolved once from the environment.
 *
 * Precedence: the process environment (the ecosystems' own variable names), then the `stack.env`
 * file that `onnx-export stack up` writes into its state folder, then the local stack's defaults.
 * Secrets are read here and nowhere else; they never enter workflow inputs or reports.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { LOCAL_DEFAULTS, STORAGE_DEFAULTS } from '../common/constants';
import { parseMetricsAddress } from './metrics-address';
import { endpointWithoutCredentials, resolveMlflowSecurity, resolveS3Security } from './service-security';
import type { MlflowConfig, S3Config, ValueSource } from './service-settings';
import { resolveTemporalConnection, type TemporalConnection, type TemporalSecurity } from './temporal-connection';

// The settings' shapes live in service-settings.ts (shared with service-security.ts without a cycle).
export type { MlflowConfig, S3Config, ValueSource } from './service-settings';

export interface PipelineConfig {
  projectRoot: string;
  stateDir: string;
  /** Worker-local files: downloaded bundles and artifacts by sha256, emitted models before upload. */
  workDir: string;
  /** `address`/`namespace` repeat `connection`'s, for messages; `security` is safe to print. */
  temporal: {
    address: string;
    namespace: string;
    uiUrl: string;
    connection: TemporalConnection;
    security: TemporalSecurity;
  };
  s3: S3Config;
  mlflow: MlflowConfig;
  /** Upload tuning; `partSizeBytes` from ONNX_EXPORT_UPLOAD_PART_BYTES (at least 5 MiB), else UPLOAD_DEFAULTS. */
  upload: { partSizeBytes: number | undefined };
  /** Bound of workDir's cache from ONNX_EXPORT_CACHE_MAX_BYTES, else the activities' default (work-cache.ts). */
  cache: { maxBytes: number | undefined };
  /** The worker's Prometheus endpoint from ONNX_EXPORT_METRICS_ADDRESS (`ip:port`); undefined: none (the default). */
  metrics: { address: string | undefined };
  /** Which source each non-secret setting came from, for `doctor`. */
  sources: Record<string, ValueSource>;
}

/** The clone's root: the nearest folder above this module holding our package.json (works from dist/ too). */
export function findProjectRoot(start: string = __dirname): string {
  let dir = resolve(start);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && /"name":\s*"onnx-export-pipeline"/.test(readFileSync(pkg, 'utf8'))) return dir;
    const parent = resolve(dir, '..');
    if (parent === dir) throw new Error(`no onnx-export-pipeline package.json above ${start}`);
    dir = parent;
  }
}

/** Parses KEY=VALUE lines (the format stack.sh writes); blank lines and # comments are ignored. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq > 0) out[trimmed.slice(0, eq)] = trimmed.slice(eq + 1);
  }
  return out;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  const projectRoot = findProjectRoot();
  const stateDir = resolve(env.ONNX_EXPORT_STATE_DIR ?? join(projectRoot, '.state'));
  const stackEnvPath = join(stateDir, 'stack.env');
  const stackEnv = existsSync(stackEnvPath) ? parseEnvFile(readFileSync(stackEnvPath, 'utf8')) : {};
  const sources: Record<string, ValueSource> = {};

  const pick = (keys: readonly string[], fallback: string): string => {
    const key = keys[0] ?? '';
    for (const k of keys) {
      const v = env[k];
      if (v) {
        sources[key] = 'environment';
        return v;
      }
    }
    for (const k of keys) {
      const v = stackEnv[k];
      if (v) {
        sources[key] = 'stack.env';
        return v;
      }
    }
    sources[key] = 'default';
    return fallback;
  };

  const d = LOCAL_DEFAULTS;
  const temporal = resolveTemporalConnection(env, stackEnv);
  for (const key of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE'] as const) {
    const fromProfile = key === 'TEMPORAL_ADDRESS' ? temporal.profileSet.address : temporal.profileSet.namespace;
    sources[key] = env[key]
      ? 'environment'
      : temporal.fromStackEnv.includes(key)
        ? 'stack.env'
        : fromProfile
          ? 'config file'
          : 'default';
  }
  const cacheRoot = env.ONNX_EXPORT_CACHE ?? join(homedir(), '.cache', 'onnx-export-pipeline');
  return {
    projectRoot,
    stateDir,
    workDir: resolve(env.ONNX_EXPORT_WORK_DIR ?? join(cacheRoot, 'work')),
    temporal: {
      address: temporal.connection.address,
      namespace: temporal.connection.namespace,
      connection: temporal.connection,
      security: temporal.security,
      uiUrl: pick(['TEMPORAL_UI_URL'], `http://${d.temporalHost}:${d.temporalUiPort}`),
    },
    s3: {
      // AWS_ENDPOINT_URL_S3 is the AWS SDKs' own name; MLflow's name is accepted as well.
      endpoint: endpointWithoutCredentials(
        'AWS_ENDPOINT_URL_S3',
        pick(
          ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL', 'MLFLOW_S3_ENDPOINT_URL'],
          `http://${d.minioHost}:${d.minioPort}`,
        ),
      ),
      accessKey: env.AWS_ACCESS_KEY_ID ?? d.minioAccessKey,
      secretKey: env.AWS_SECRET_ACCESS_KEY ?? d.minioSecretKey,
      region: pick(['AWS_REGION', 'AWS_DEFAULT_REGION'], 'us-east-1'),
      modelsBucket: pick(['ONNX_EXPORT_BUCKET'], STORAGE_DEFAULTS.modelsBucket),
      checkpointsBucket: pick(['ONNX_EXPORT_CHECKPOINT_BUCKET'], STORAGE_DEFAULTS.checkpointsBucket),
      ...resolveS3Security(env, { pick, sources, stateDir }),
    },
    mlflow: {
      trackingUri: endpointWithoutCredentials(
        'MLFLOW_TRACKING_URI',
        pick(['MLFLOW_TRACKING_URI'], `http://${d.mlflowHost}:${d.mlflowPort}`),
      ),
      ...resolveMlflowSecurity(env, { pick, sources, stateDir }),
    },
    upload: { partSizeBytes: uploadPartBytes(env.ONNX_EXPORT_UPLOAD_PART_BYTES) },
    cache: { maxBytes: cacheMaxBytes(env.ONNX_EXPORT_CACHE_MAX_BYTES) },
    metrics: { address: parseMetricsAddress(env.ONNX_EXPORT_METRICS_ADDRESS) },
    sources,
  };
}

/** ONNX_EXPORT_CACHE_MAX_BYTES: a whole number of bytes, 0 or more (0 keeps only what is in use). */
function cacheMaxBytes(raw: string | undefined): number | undefined {
  if (!raw) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`ONNX_EXPORT_CACHE_MAX_BYTES=${raw}: expected a whole number of bytes, 0 or more`);
  return n;
}

/** ONNX_EXPORT_UPLOAD_PART_BYTES: a whole number of bytes S3 accepts as a part size (5 MiB to 5 GiB). */
function uploadPartBytes(raw: string | undefined): number | undefined {
  if (!raw) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 5 * 1024 * 1024 || n > 5 * 1024 ** 3) {
    throw new Error(
      `ONNX_EXPORT_UPLOAD_PART_BYTES=${raw}: expected a whole number of bytes between 5242880 (5 MiB) and 5368709120 (5 GiB)`,
    );
  }
  return n;
}
