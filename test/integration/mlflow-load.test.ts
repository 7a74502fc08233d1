/**
 * Integration: MLflow's own Python client loads the graph WE emitted. A PyTorch-made bundle
 * (scripts/fixtures/make_localizationnet.py, Debian's torch) is exported by the real exportModel
 * workflow on a worker host (Temporal, MinIO, MLflow of the local stack), so the ONNX in the
 * registry is our emitter's, published and registered by our code. Then, in the stack's virtualenv
 * (mlflow, onnx, onnxruntime, boto3), `mlflow.pyfunc.load_model("models:/<name>/<version>")` and
 * `mlflow.onnx.load_model` must predict the bundle's reference outputs within the parity tolerance,
 * and the `staging` alias must resolve to the version.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import { MlflowClient } from '../../registry/mlflow-client';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { mlflowLoadCheck, venvPython, versionByAlias } from './support/mlflow-python';
import { uniqueName } from './support/stack';
import { useWorkerHost } from './support/worker-host';

/** The pipeline's parity tolerance (issue 5 / parity stage): float32 ONNX vs PyTorch eval outputs. */
const PARITY = { maxAbs: 1e-4, mae: 1e-5 };
/** The test checks loading, not latency: the smallest benchmark the stage accepts. */
const QUICK_BENCHMARK = { batchSizes: [1], maxRuns: 5, timeBudgetMs: 500, gpu: false };

describe('MLflow loads the registered model', () => {
  const live = useWorkerHost();
  const modelName = uniqueName('mlflow-load');
  let bundle: string;
  let checkpointUri: string;
  let python: string;

  beforeAll(async () => {
    bundle = await makeBundle(SMALL_CONVNEXT);
    checkpointUri = (await uploadBundle(live.config, bundle)).uri;
    python = venvPython(live.config);
  });

  afterAll(async () => {
    const mlflow = new MlflowClient(live.config.mlflow.trackingUri, live.config.mlflow.token);
    await mlflow.call('DELETE', 'registered-models/delete', { name: modelName }).catch(() => undefined);
  });

  it('pyfunc and onnx flavors load our exported models:/<name>/<version> and match the PyTorch reference', async () => {
    const request = { checkpointUri, modelName, runId: uniqueName('run'), benchmark: QUICK_BENCHMARK };
    const result = await (await startExport(live.client, request)).handle.result();
    expect(result.published.files).toContain('MLmodel');
    expect(result.registry.alias).toBe('staging');
    // A second export of the same run finds the completed one: same directory, same version.
    const again = await startExport(live.client, request);
    expect(again.outcome).toBe('found-completed');
    const second = await again.handle.result();
    expect(second.published).toMatchObject({
      modelUuid: result.published.modelUuid,
      createdUtc: result.published.createdUtc,
    });
    expect(second.registry.version).toBe(result.registry.version);

    const report = mlflowLoadCheck(
      live.config,
      python,
      result.registry.modelUri,
      join(bundle, 'reference.safetensors'),
      PARITY,
    );
    expect(report.signature_inputs).toEqual(['mel_spectrogram']);
    expect(report.pyfunc.positions?.max_abs).toBeLessThanOrEqual(PARITY.maxAbs);
    expect(report.onnx.uncertainties?.max_abs).toBeLessThanOrEqual(PARITY.maxAbs);
    expect(report.ok).toBe(true);

    // The alias resolves too.
    expect(versionByAlias(live.config, python, modelName, 'staging')).toBe(result.registry.version);
  });
});
