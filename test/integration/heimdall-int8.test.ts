/**
 * The int8 variant of the training service's three models as our plug-ins emit them, end to end on
 * the real Temporal, MinIO and MLflow, with MLflow's own Python client as the consumer. Weights
 * bundles (config.json + model.safetensors, reference cases, calibration inputs at 16 samples per
 * case) made by scripts/fixtures/make_heimdall_bundle.py go through `onnx-export run <dir>
 * --variants fp32,int8 --wait` (the built CLI): the int8 graph passes the default int8 gate on the
 * reference cases and is registered; MLflow's pyfunc and onnx flavors load the int8 version and
 * predict the holdout cases (never in the bundle) at batch 1 and 5 within the gate's max abs error.
 * What is quantized is asserted per model (docs/quantization.md, "The training service's models"),
 * IQResNet18's composed-conv weights folded first and its float scopes kept float.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INT8_TOLERANCES } from '../../common/export-contract';
import { MlflowClient } from '../../registry/mlflow-client';
import { exportWithCli } from './support/cli-run';
import { makeWeightsBundle, type HeimdallModel } from './support/heimdall-fixtures';
import { mlflowCasesCheck, venvPython } from './support/mlflow-python';
import { uniqueName } from './support/stack';
import { useWorkerHost } from './support/worker-host';

/**
 * Per case. IQResNet18's one-sample reference case is the tightest: positions MAE 2.7e-2 with 8, 2.2e-2
 * with 16 (docs/quantization.md); the others stay under 1e-2 either way.
 */
const CALIBRATION_SAMPLES = 16;

const MODELS: {
  model: HeimdallModel;
  quantized: Record<string, number>;
  floatScopes: { scopes: string[]; nodes: Record<string, number> };
  folded: number;
}[] = [
  // Every Linear (R = 10: the calibration layers as one Gemm); the two convs over the sequence stay float.
  {
    model: 'heimdall_net',
    quantized: { Gemm: 61 },
    floatScopes: {
      scopes: ['receiver_encoder.iq_encoder.stem.0', 'receiver_encoder.iq_encoder.blocks.0.conv_block.0'],
      nodes: { Conv: 2 },
    },
    folded: 0,
  },
  { model: 'triangulation_model', quantized: { Gemm: 6 }, floatScopes: { scopes: [], nodes: {} }, folded: 0 },
  {
    model: 'iq_resnet18',
    quantized: { Conv: 11, Gemm: 6 },
    floatScopes: { scopes: ['iq_encoder.7.3+mean', 'attention'], nodes: { Conv: 2, Gemm: 2 } },
    folded: 5,
  },
];

describe("the int8 variant of the training service's models from their weights (Temporal, MinIO, MLflow, MLflow's Python client)", () => {
  const live = useWorkerHost();
  const names: string[] = [];
  let python: string;
  let mlflow: MlflowClient;

  beforeAll(() => {
    python = venvPython(live.config);
    mlflow = new MlflowClient(live.config.mlflow.trackingUri, live.config.mlflow.token);
  });

  afterAll(async () => {
    for (const name of names.flatMap((n) => [n, `${n}-int8`]))
      await mlflow.call('DELETE', 'registered-models/delete', { name }).catch(() => undefined);
  });

  it.each(MODELS)(
    '$model: run --variants fp32,int8 registers an int8 version within the default int8 gate; MLflow pyfunc and onnx predict holdout cases with it',
    async ({ model, quantized, floatScopes, folded }) => {
      const bundle = await makeWeightsBundle({
        model,
        weights: 'safetensors',
        calibrationSamples: CALIBRATION_SAMPLES,
        holdout: true,
      });
      const modelName = uniqueName(`${model.replace(/_/g, '-')}-int8v`);
      names.push(modelName);
      const result = await exportWithCli(live.config, bundle.dir, modelName, ['--variants', 'fp32,int8']);
      expect(result.parity.passed).toBe(true);
      const int8 = result.variants.int8;
      if (int8?.status !== 'published') throw new Error(`int8 not published: ${JSON.stringify(int8)}`);
      expect(int8.parity.passed).toBe(true);
      expect(int8.parity.tolerances).toEqual(DEFAULT_INT8_TOLERANCES);
      expect(int8.quantization).toMatchObject({
        quantizedNodes: quantized,
        floatScopes,
        foldedWeights: folded,
        calibration: { source: 'calibration.safetensors', cases: 3, samples: 3 * CALIBRATION_SAMPLES },
      });
      expect(int8.registry.modelName).toBe(`${modelName}-int8`);

      const check = mlflowCasesCheck(
        live.config,
        python,
        int8.registry.modelUri,
        bundle.holdoutPath as string,
        DEFAULT_INT8_TOLERANCES.maxAbs,
      );
      expect(check.problems).toEqual([]);
      expect(check.ok).toBe(true);
      expect(new Set(check.errors.map((e) => `${e.loader}@${e.batch}`))).toEqual(
        new Set(['pyfunc@1', 'pyfunc@5', 'onnx@1', 'onnx@5']),
      );
      const worst = Math.max(...check.errors.map((e) => e.max_abs ?? Infinity));
      // Quantized for real: not the fp32 graph's ~1e-6.
      expect(worst).toBeGreaterThan(1e-4);
      const gate = Object.entries(int8.parity.outputs)
        .map(([name, e]) => `${name} MAE ${e.mae.toExponential(2)} max ${e.maxAbs.toExponential(2)}`)
        .join(', ');
      console.log(
        `${model}: int8 ${(int8.onnx.bytes / result.onnx.bytes).toFixed(3)}× fp32's bytes; reference ${gate}; ` +
          `holdout through MLflow, worst ${worst.toExponential(2)}`,
      );
    },
  );
});
