/**
 * Integration: MLflow's own Python client accepts what we wrote. Uses MinIO and MLflow of the local
 * stack (loadConfig()), the stack's virtualenv (mlflow, onnx, onnxruntime, boto3) and Debian's
 * PyTorch (scripts/fixtures/make_localizationnet.py) for a small LocalizationNet ONNX with
 * reference outputs. Stages, publishes and registers it with our code, then
 * `mlflow.pyfunc.load_model("models:/<name>/<version>")` and `mlflow.onnx.load_model` must predict
 * the reference outputs within the parity tolerance.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/environment';
import { MlflowClient } from '../../registry/mlflow-client';
import { publishModelDirectory } from '../../registry/model-directory';
import { graphSignature } from '../../onnx/graph-signature';
import { readModel } from '../../onnx/serialize-read';
import { registerModelVersion } from '../../registry/register-model-version';
import { createMinioClient } from '../../storage/minio-client';
import { ContentAddressedStore } from '../../storage/object-store';
import { minioS3Operations } from '../../storage/s3-operations';
import { requireMinio, requireMlflow } from './stack-reachability';
import { runMlflowScript, venvPython } from './support/mlflow-python';

/** The pipeline's parity tolerance (issue 5 / parity stage): float32 ONNX vs PyTorch eval outputs. */
const PARITY = { maxAbs: 1e-4, mae: 1e-5 };

const config = loadConfig();
const minio = createMinioClient(config.s3);
const store = new ContentAddressedStore(minioS3Operations(minio), { bucket: config.s3.modelsBucket });
const mlflow = new MlflowClient(config.mlflow.trackingUri, config.mlflow.token);
const modelName = `test-mlflow-load-${randomUUID().slice(0, 8)}`;
let dir: string;
let python: string;

beforeAll(async () => {
  await requireMinio(config, () => minio.bucketExists(config.s3.modelsBucket));
  await requireMlflow(config);
  dir = mkdtempSync(join(tmpdir(), 'mlflow-load-'));
  execFileSync(
    '/usr/bin/python3',
    [
      join(config.projectRoot, 'scripts/fixtures/make_localizationnet.py'),
      '--out',
      dir,
      '--backbone',
      'convnext',
      '--depths',
      '1,1,1,1',
      '--dims',
      '8,16,24,32',
      '-n',
      '4',
      '--torch-onnx',
      join(dir, 'model.onnx'),
      '--opset',
      '17',
    ],
    { stdio: 'pipe' },
  );
  python = venvPython(config);
});

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  await mlflow.call('DELETE', 'registered-models/delete', { name: modelName }).catch(() => undefined);
  const keys: string[] = [];
  for await (const o of minio.listObjects(config.s3.modelsBucket, `models/${modelName}/`, true))
    if (o.name) keys.push(o.name);
  if (keys.length) await minio.removeObjects(config.s3.modelsBucket, keys);
});

describe('MLflow loads the registered model', () => {
  it('pyfunc and onnx flavors load models:/<name>/<version> and match the PyTorch reference', async () => {
    const staged = await store.stageFile(join(dir, 'model.onnx'));
    const signature = graphSignature(await readModel(join(dir, 'model.onnx')));
    const directory = {
      modelName,
      sha256: staged.sha256,
      bytes: staged.bytes,
      signature,
      opset: 17,
      workflowId: 'test-mlflow-load',
      parityReport: { maxAbsError: 0, meanAbsError: 0, note: 'fixture' },
      latencySvg: '<svg xmlns="http://www.w3.org/2000/svg"/>',
    };
    const published = await publishModelDirectory(store, directory, { stagedKey: staged.key });
    expect(published.files).toContain('MLmodel');
    const again = await publishModelDirectory(store, directory, { stagedKey: staged.key });
    expect(again).toMatchObject({ written: false, modelUuid: published.modelUuid, createdUtc: published.createdUtc });

    const entry = await registerModelVersion(mlflow, {
      modelName,
      sha256: staged.sha256,
      source: published.source,
      opset: 17,
      alias: 'staging',
    });
    const report = runMlflowScript<{
      ok: boolean;
      signature_inputs: string[];
      pyfunc: Record<string, { max_abs: number }>;
    }>(config, python, 'mlflow_load_check.py', [
      entry.modelUri,
      join(dir, 'reference.safetensors'),
      String(PARITY.maxAbs),
      String(PARITY.mae),
    ]);
    expect(report.signature_inputs).toEqual(['mel_spectrogram']);
    expect(report.pyfunc.positions?.max_abs).toBeLessThanOrEqual(PARITY.maxAbs);
    expect(report.ok).toBe(true);

    // The alias resolves too.
    const byAlias = execFileSync(
      python,
      [
        '-c',
        `import mlflow;print(mlflow.MlflowClient().get_model_version_by_alias(${JSON.stringify(modelName)}, "staging").version)`,
      ],
      { encoding: 'utf8', env: { ...process.env, MLFLOW_TRACKING_URI: config.mlflow.trackingUri } },
    );
    expect(byAlias.trim()).toBe(entry.version);
  });
});
