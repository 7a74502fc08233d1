/**
 * MLflow's own Python client, as a consumer runs it: the stack's virtualenv (mlflow, onnx,
 * onnxruntime, boto3) with the tracking server and the object store's credentials in its
 * environment (with their TLS and auth settings, as a consumer sets them). Tests call scripts under
 * test/python/ through it and read their last JSON line.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { PipelineConfig } from '../../../config/environment';

/** The virtualenv's python (scripts/ensure-python-venv.sh prints the venv's folder last). */
export function venvPython(config: PipelineConfig): string {
  const out = execFileSync('bash', [join(config.projectRoot, 'scripts/ensure-python-venv.sh')], { encoding: 'utf8' });
  return join(out.trim().split('\n').pop() ?? '', 'bin/python');
}

/** What MLflow's client needs to reach this stack's registry and artifacts. */
export function mlflowClientEnv(config: PipelineConfig): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MLFLOW_TRACKING_URI: config.mlflow.trackingUri,
    ...(config.mlflow.token ? { MLFLOW_TRACKING_TOKEN: config.mlflow.token } : {}),
    ...(config.mlflow.username ? { MLFLOW_TRACKING_USERNAME: config.mlflow.username } : {}),
    ...(config.mlflow.password ? { MLFLOW_TRACKING_PASSWORD: config.mlflow.password } : {}),
    ...(config.mlflow.serverCertPath ? { MLFLOW_TRACKING_SERVER_CERT_PATH: config.mlflow.serverCertPath } : {}),
    MLFLOW_S3_ENDPOINT_URL: config.s3.endpoint,
    AWS_ACCESS_KEY_ID: config.s3.accessKey,
    AWS_SECRET_ACCESS_KEY: config.s3.secretKey,
    ...(config.s3.caBundlePath ? { AWS_CA_BUNDLE: config.s3.caBundlePath } : {}),
    ...(config.s3.sessionToken ? { AWS_SESSION_TOKEN: config.s3.sessionToken } : {}),
    AWS_DEFAULT_REGION: config.s3.region,
  };
}

/** Runs `test/python/<script>` with `args` in the virtualenv and parses the JSON line it prints last. */
export function runMlflowScript<T>(config: PipelineConfig, python: string, script: string, args: string[]): T {
  const out = execFileSync(python, [join(config.projectRoot, 'test/python', script), ...args], {
    encoding: 'utf8',
    env: mlflowClientEnv(config),
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as T;
}

/** What test/python/mlflow_load_check.py reports: per output, the worst error of each flavor's load. */
export interface MlflowLoadReport {
  ok: boolean;
  signature_inputs: string[];
  pyfunc: Record<string, { max_abs: number }>;
  onnx: Record<string, { max_abs: number }>;
}

/** Loads `modelUri` with MLflow's pyfunc and onnx flavors and runs it on the reference inputs within `tolerances`. */
export function mlflowLoadCheck(
  config: PipelineConfig,
  python: string,
  modelUri: string,
  referencePath: string,
  tolerances: { mae: number; maxAbs: number },
): MlflowLoadReport {
  return runMlflowScript<MlflowLoadReport>(config, python, 'mlflow_load_check.py', [
    modelUri,
    referencePath,
    String(tolerances.maxAbs),
    String(tolerances.mae),
  ]);
}

/** The version MLflow's client resolves `name@alias` to. */
export function versionByAlias(config: PipelineConfig, python: string, name: string, alias: string): string {
  const script = `import mlflow;print(mlflow.MlflowClient().get_model_version_by_alias(${JSON.stringify(name)}, ${JSON.stringify(alias)}).version)`;
  return execFileSync(python, ['-c', script], { encoding: 'utf8', env: mlflowClientEnv(config) }).trim();
}

/** What test/python/mlflow_cases_check.py reports: the signature MLflow read and, per loader, case, batch and output, the worst error. */
export interface MlflowCasesReport {
  ok: boolean;
  signature: { inputs: { name: string; dtype: string; shape: number[] }[]; outputs: { name: string }[] };
  errors: { loader: string; case: string; batch: number; output: string; max_abs?: number }[];
  problems: string[];
}

/** test/python/mlflow_cases_check.py's report, also when it exits 1 (the report says why). */
export function mlflowCasesCheck(
  config: PipelineConfig,
  python: string,
  modelUri: string,
  cases: string,
  maxAbs: number,
): MlflowCasesReport {
  const script = join(config.projectRoot, 'test/python/mlflow_cases_check.py');
  let out: string;
  try {
    out = execFileSync(python, [script, modelUri, cases, String(maxAbs), '1,5'], {
      encoding: 'utf8',
      env: mlflowClientEnv(config),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
    if (!out.trim()) throw err;
  }
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as MlflowCasesReport;
}
