/**
 * The pipeline against a secured platform, every part real (`STACK_SECURED=1 scripts/stack.sh up`):
 * Temporal reachable only through a TLS proxy that requires a client certificate, MinIO serving TLS
 * with a CA the stack generated and non-default credentials, MLflow's basic-auth app behind TLS with
 * a non-admin pipeline user. A worker process and the CLI get nothing but the environment a platform
 * team would give them. Proves: a full export (CLI and Python training parent), MLflow's own client
 * loading the version with the same credentials, `doctor` showing TLS and auth without secrets, no
 * credential in histories, results or logs, and every wrong or missing credential failing within
 * seconds with one line naming the service, the endpoint and the variable.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type PipelineConfig } from '../../config/environment';
import { uploadBundle } from '../../client/bundle-upload';
import type { DoctorReport } from '../../client/doctor';
import { DEFAULT_TOLERANCES } from '../../common/export-contract';
import { exportWorkflowId } from '../../common/export-contract';
import { connectClient } from '../../temporal/connect';
import type { ExportResult } from '../../workflows/export-model';
import { startWorkerProcess, stopAllWorkers, type WorkerProcess } from './support/fault-injection';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { credentialsIn, findSecrets } from './support/history-secrets';
import { mlflowLoadCheck, venvPython } from './support/mlflow-python';
import { securedStack, type SecuredStack } from './support/secured-stack';
import { uniqueName } from './support/stack';

const run = promisify(execFile);

/** Quick benchmark settings: the export must complete, not measure. */
const QUICK = JSON.stringify({ benchmark: { batchSizes: [1], maxRuns: 10, timeBudgetMs: 500, gpu: false } });

/**
 * This process's environment without any service setting: the plain test stack's variables and this
 * machine's CA bundles must not leak into a process that is meant to know only the secured stack.
 */
function baseEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(AWS_|MLFLOW_|TEMPORAL_|ONNX_EXPORT_|MINIO_)/.test(k)) continue;
    out[k] = v;
  }
  return out;
}

interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

describe('an export through a secured platform (mTLS Temporal, MinIO over TLS, MLflow with auth)', () => {
  let stack: SecuredStack;
  /** What the worker and the CLI get: the stack's settings and the pipeline user's secrets only. */
  let env: Record<string, string>;
  let config: PipelineConfig;
  let worker: WorkerProcess;
  let root: string;
  let bundleDir: string;

  const cli = async (
    args: string[],
    extraEnv: Record<string, string | undefined> = {},
    timeout = 600_000,
  ): Promise<CliOutcome> => {
    const merged: Record<string, string> = { ...env };
    for (const [k, v] of Object.entries(extraEnv)) {
      if (v === undefined) delete merged[k];
      else merged[k] = v;
    }
    const started = Date.now();
    try {
      const out = await run(process.execPath, [join(root, 'bin', 'onnx-export.js'), ...args], {
        env: merged,
        cwd: root,
        timeout,
        killSignal: 'SIGKILL',
        maxBuffer: 20 * 1024 * 1024,
      });
      return { code: 0, stdout: out.stdout, stderr: out.stderr, ms: Date.now() - started };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '', ms: Date.now() - started };
    }
  };

  beforeAll(async () => {
    stack = await securedStack();
    const { MLFLOW_ADMIN_USERNAME: _u, MLFLOW_ADMIN_PASSWORD: _p, ...pipelineEnv } = stack.env;
    // An empty state folder: no stack.env to fall back on, so every setting is the environment's own.
    env = { ...baseEnv(), ...pipelineEnv, ONNX_EXPORT_STATE_DIR: mkdtempSync(join(tmpdir(), 'secured-empty-state-')) };
    config = loadConfig(env);
    root = config.projectRoot;
    worker = await startWorkerProcess('secured', env);
    bundleDir = await makeBundle(SMALL_CONVNEXT);
  }, 600_000);

  afterAll(async () => {
    await stopAllWorkers();
    await stack?.down();
  });

  let exported: ExportResult;
  let modelName: string;

  it('a full export started by the CLI completes through the secured stack', async () => {
    modelName = uniqueName('secured');
    const out = await cli([
      'run',
      bundleDir,
      '--model-name',
      modelName,
      '--run-id',
      'r1',
      '--no-gpu',
      '--batch',
      '1',
      '--wait',
      '--json',
    ]);
    expect(out.stderr + out.stdout).not.toMatch(/error/i);
    expect(out.code).toBe(0);
    exported = JSON.parse(out.stdout) as ExportResult;
    expect(exported.registry.version).toBe('1');
    expect(exported.parity.passed).toBe(true);
  });

  it("MLflow's own Python client loads that version with the same credentials, over TLS", () => {
    const report = mlflowLoadCheck(
      config,
      venvPython(config),
      exported.registry.modelUri,
      join(bundleDir, 'reference.safetensors'),
      DEFAULT_TOLERANCES,
    );
    expect(report.onnx.positions?.max_abs).toBeLessThanOrEqual(DEFAULT_TOLERANCES.maxAbs);
    expect(report.ok).toBe(true);
  });

  it('the Python training parent exports through it with the same environment (temporalio.envconfig)', async () => {
    const checkpointUri = (await uploadBundle(config, bundleDir)).uri;
    const name = uniqueName('secured-py');
    const python = venvPython(config);
    const script = join(root, 'workflows', 'python', 'training_parent.py');
    const out = await run(
      python,
      [script, '--checkpoint-uri', checkpointUri, '--run-id', 'r1', '--model-name', name, '--export-json', QUICK],
      { env, timeout: 600_000 },
    );
    const result = JSON.parse(out.stdout.trim().split('\n').pop() ?? '{}') as ExportResult;
    expect(result.registry.version).toBe('1');
    expect(result.registry.modelName).toBe(name);
  });

  it('doctor shows TLS and authentication per service, and no secret', async () => {
    const out = await cli(['doctor', '--json']);
    expect(out.code, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as DoctorReport;
    const by = Object.fromEntries(report.services.map((s) => [s.service, s]));
    expect(by.temporal?.security).toMatchObject({
      tls: expect.stringMatching(/^on \(CA /),
      auth: 'client certificate',
    });
    expect(by.minio?.security?.tls).toMatch(/^on \(CA /);
    expect(by.minio?.security?.auth).toMatch(/access key/);
    expect(by.mlflow?.security?.tls).toMatch(/^on \(CA /);
    expect(by.mlflow?.security?.auth).toContain(stack.pipelineAuth.username);
    const text = await cli(['doctor']);
    for (const secret of secrets()) {
      expect(out.stdout.includes(secret) || text.stdout.includes(secret), 'doctor printed a secret').toBe(false);
    }
  });

  /** Everything secret this stack has: the pipeline's and the admin's credentials and key material. */
  const secrets = (): string[] =>
    credentialsIn(stack.env, [stack.adminAuth.password, stack.s3Credentials.secretKey, stack.pipelineAuth.password]);

  it('no credential or key material in the histories, the result or the worker log', async () => {
    const all = secrets();
    expect(all.length).toBeGreaterThanOrEqual(5);
    const client = await connectClient(config);
    try {
      for (const id of [exportWorkflowId(modelName, 'r1')]) {
        const json = JSON.stringify(await client.workflow.getHandle(id).fetchHistory());
        expect(findSecrets(json, all), `${id}: credentials in history`).toEqual([]);
      }
      const parents = client.workflow.list({ query: 'WorkflowType = "pythonTrainingWithExport"' });
      for await (const p of parents) {
        const json = JSON.stringify(await client.workflow.getHandle(p.workflowId, p.runId).fetchHistory());
        expect(findSecrets(json, all), `${p.workflowId}: credentials in history`).toEqual([]);
      }
    } finally {
      await client.connection.close();
    }
    expect(findSecrets(JSON.stringify({ result: exported }), all)).toEqual([]);
    const log = worker.output();
    for (const s of all) expect(log.includes(s), 'worker log holds a credential').toBe(false);
  });

  /**
   * Each wrong or missing setting, given to a worker as a deployment would: it must stop within
   * seconds, with one line naming the service, the endpoint and the variable, and no stack trace.
   */
  const wrong: { name: string; env: () => Record<string, string | undefined>; expect: RegExp[] }[] = [
    {
      name: 'Temporal without a client certificate',
      env: () => ({ TEMPORAL_TLS_CLIENT_CERT_PATH: undefined, TEMPORAL_TLS_CLIENT_KEY_PATH: undefined }),
      expect: [/Temporal at 127\.0\.0\.1:\d+/, /TEMPORAL_TLS_CLIENT_CERT_PATH/],
    },
    {
      name: 'Temporal with a client certificate from another CA',
      env: () => ({
        TEMPORAL_TLS_CLIENT_CERT_PATH: stack.rogue.clientCert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: stack.rogue.clientKey,
      }),
      expect: [/Temporal at 127\.0\.0\.1:\d+/, /TEMPORAL_TLS_CLIENT_CERT_PATH/],
    },
    {
      name: "Temporal without the server's CA",
      env: () => ({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: undefined }),
      expect: [/Temporal at 127\.0\.0\.1:\d+/, /TEMPORAL_TLS_SERVER_CA_CERT_PATH/],
    },
    {
      name: 'Temporal in plain text to the TLS endpoint',
      env: () => ({ TEMPORAL_TLS: 'false' }),
      expect: [/Temporal at 127\.0\.0\.1:\d+/, /TEMPORAL_TLS/],
    },
    {
      name: 'S3 with a wrong secret key',
      env: () => ({ AWS_SECRET_ACCESS_KEY: 'wrong-secret-key-123456' }),
      expect: [/S3/, /https:\/\/127\.0\.0\.1:\d+/, /AWS_SECRET_ACCESS_KEY/],
    },
    {
      name: "S3 without the server's CA",
      env: () => ({ AWS_CA_BUNDLE: undefined }),
      expect: [/S3/, /https:\/\/127\.0\.0\.1:\d+/, /AWS_CA_BUNDLE/],
    },
    {
      name: 'MLflow with a wrong password',
      env: () => ({ MLFLOW_TRACKING_PASSWORD: 'wrong-password-123456' }),
      expect: [/MLflow/, /https:\/\/127\.0\.0\.1:\d+/, /MLFLOW_TRACKING_PASSWORD/],
    },
    {
      name: 'MLflow without credentials',
      env: () => ({ MLFLOW_TRACKING_USERNAME: undefined, MLFLOW_TRACKING_PASSWORD: undefined }),
      expect: [/MLflow/, /https:\/\/127\.0\.0\.1:\d+/, /MLFLOW_TRACKING_USERNAME/],
    },
    {
      name: "MLflow without the server's CA",
      env: () => ({ MLFLOW_TRACKING_SERVER_CERT_PATH: undefined }),
      expect: [/MLflow/, /https:\/\/127\.0\.0\.1:\d+/, /MLFLOW_TRACKING_SERVER_CERT_PATH/],
    },
  ];

  for (const c of wrong) {
    it(`a worker with ${c.name} stops within seconds, naming the service, endpoint and variable`, async () => {
      // A worker that wrongly starts would poll for ever: the timeout ends it, and the test fails.
      const out = await cli(['worker'], c.env(), 30_000);
      expect(out.code, out.stdout).not.toBe(0);
      expect(out.ms).toBeLessThan(20_000);
      const lines = out.stderr.trim().split('\n');
      expect(lines, out.stderr).toHaveLength(1);
      expect(out.stderr).not.toMatch(/^\s+at /m);
      for (const re of c.expect) expect(out.stderr).toMatch(re);
      for (const s of secrets()) expect(out.stderr.includes(s), 'the message holds a secret').toBe(false);
      expect(out.stdout).not.toContain('worker polling');
    });
  }

  it('the export CLI with a wrong S3 key fails at the bundle upload, naming S3 and the variable', async () => {
    const out = await cli(['run', bundleDir, '--model-name', uniqueName('secured-bad'), '--run-id', 'r1', '--wait'], {
      AWS_SECRET_ACCESS_KEY: 'wrong-secret-key-123456',
    });
    expect(out.code).not.toBe(0);
    expect(out.ms).toBeLessThan(20_000);
    expect(out.stderr).toMatch(/S3/);
    expect(out.stderr).toMatch(/AWS_SECRET_ACCESS_KEY/);
    expect(out.stderr).not.toMatch(/^\s+at /m);
  });

  it('the TLS proxy is the only Temporal endpoint the pipeline was given', () => {
    expect(config.temporal.address).toBe(stack.endpoints.temporal);
    expect(config.temporal.address).not.toBe(stack.endpoints.temporalPlain);
    expect(readFileSync(join(stack.stateDir, 'stack.env'), 'utf8')).not.toContain(stack.endpoints.temporalPlain);
  });
});
