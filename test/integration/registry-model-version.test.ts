/**
 * Integration: registry/ against the real MLflow of the local stack (loadConfig()), directly and
 * through a proxy that loses the answer of a create. Uses MLflow only (no MinIO: the source
 * directory need not exist for the registry to record it).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/environment';
import { MlflowClient } from '../../registry/mlflow-client';
import { registerModelVersion, sha256Filter, type RegisterModelInput } from '../../registry/register-model-version';
import { RegistrationError, RegistryInputError } from '../../registry/registry-error';
import { startLossyProxy, type LossyProxy } from './registry-lossy-proxy';
import { requireMlflow } from './stack-reachability';

const config = loadConfig();
const mlflow = new MlflowClient(config.mlflow.trackingUri, config.mlflow.token);
const modelName = `test-registry-${randomUUID().slice(0, 8)}`;
const noSleep = async () => {};
let proxy: LossyProxy;

function input(sha256: string, extra: Partial<RegisterModelInput> = {}): RegisterModelInput {
  return {
    modelName,
    sha256,
    source: `s3://${config.s3.modelsBucket}/models/${modelName}/${sha256}`,
    workflowId: 'export-test-run',
    opset: 17,
    parity: { maxAbsError: 3.1e-6, meanAbsError: 4.2e-7 },
    cpuP50Ms: 1.25,
    description: 'integration test',
    alias: 'staging',
    ...extra,
  };
}
const sha = () => randomBytes(32).toString('hex');

beforeAll(async () => {
  await requireMlflow(config);
  proxy = await startLossyProxy(config.mlflow.trackingUri);
});

afterAll(async () => {
  await proxy?.close();
  await mlflow.call('DELETE', 'registered-models/delete', { name: modelName }).catch(() => undefined);
});

describe('idempotent model version registration', () => {
  it('registering the same sha256 twice gives one version, with the tags and the alias', async () => {
    const s = sha();
    const first = await registerModelVersion(mlflow, input(s));
    const second = await registerModelVersion(mlflow, input(s));
    expect(first.created).toBe(true);
    expect(second).toMatchObject({
      created: false,
      version: first.version,
      modelUri: `models:/${modelName}/${first.version}`,
    });
    const versions = await mlflow.searchModelVersions(sha256Filter(modelName, s));
    expect(versions).toHaveLength(1);
    const tags = Object.fromEntries((versions[0]?.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags).toMatchObject({
      onnx_sha256: s,
      onnx_opset: '17',
      cpu_p50_ms: '1.25',
      parity_max_abs_error: '0.0000031',
      temporal_workflow_id: 'export-test-run',
    });
    const model = await mlflow.getRegisteredModel(modelName);
    expect(model?.aliases).toContainEqual({ alias: 'staging', version: first.version });
  });

  it('a create whose answer is lost is found again, not repeated: one version', async () => {
    const s = sha();
    const viaProxy = new MlflowClient(proxy.url, config.mlflow.token, {
      retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 20 },
      sleep: noSleep,
    });
    proxy.loseAnswers('/api/2.0/mlflow/model-versions/create', 1);
    const before = proxy.seen.get('/api/2.0/mlflow/model-versions/create') ?? 0;
    const entry = await registerModelVersion(viaProxy, input(s, { alias: null }), { sleep: noSleep });
    expect(proxy.seen.get('/api/2.0/mlflow/model-versions/create')).toBe(before + 1);
    expect(await mlflow.searchModelVersions(sha256Filter(modelName, s))).toHaveLength(1);
    expect(entry.version).toBe((await mlflow.searchModelVersions(sha256Filter(modelName, s)))[0]?.version);
  });

  it('two racing registrations of one sha256 converge on a single version', async () => {
    const s = sha();
    const [a, b] = await Promise.all([
      registerModelVersion(mlflow, input(s, { alias: null })),
      registerModelVersion(mlflow, input(s, { alias: null })),
    ]);
    expect(a.version).toBe(b.version);
    expect(await mlflow.searchModelVersions(sha256Filter(modelName, s))).toHaveLength(1);
  });

  it('two registrations of different versions that set one new alias at once both succeed; the alias names one of them', async () => {
    // Several fresh aliases at once, so that MLflow's read-then-insert race has its chance each time.
    const [a, b] = await Promise.all([
      registerModelVersion(mlflow, input(sha(), { alias: null })),
      registerModelVersion(mlflow, input(sha(), { alias: null })),
    ]);
    const aliases = Array.from({ length: 6 }, (_, i) => `race${i}-${randomUUID().slice(0, 6)}`);
    await Promise.all(
      aliases.flatMap((alias) => [
        mlflow.setRegisteredModelAlias(modelName, alias, a.version),
        mlflow.setRegisteredModelAlias(modelName, alias, b.version),
      ]),
    );
    const model = await mlflow.getRegisteredModel(modelName);
    for (const alias of aliases) {
      const set = model?.aliases?.filter((x) => x.alias === alias) ?? [];
      expect(set).toHaveLength(1);
      expect([a.version, b.version]).toContain(set[0]?.version);
    }
  });

  it('refuses a model name that would escape its prefix, before any request', async () => {
    for (const bad of ['../x', 'a/b', 'x\u0000y', '', '.hidden']) {
      await expect(registerModelVersion(mlflow, { ...input(sha()), modelName: bad })).rejects.toBeInstanceOf(
        RegistryInputError,
      );
    }
  });

  it('an unreachable server is a retryable RegistrationError that names the model and hash', async () => {
    const dead = new MlflowClient('http://127.0.0.1:9', undefined, {
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      sleep: noSleep,
    });
    const s = sha();
    const err = await registerModelVersion(dead, input(s), {
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
      sleep: noSleep,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistrationError);
    expect((err as RegistrationError).retryable).toBe(true);
    expect((err as Error).message).toContain(s);
  });
});
