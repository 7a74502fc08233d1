/**
 * Integration: the MLmodel signature is the emitted graph's own. A bundle whose config.json has a
 * non-default input_shape ([3, 64, 32]) is exported by the real exportModel workflow, and MLflow's
 * own Python client (mlflow.models.get_model_info in the stack's virtualenv) reads back that shape,
 * not LocalizationNet's default [3, 128, 32].
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { runMlflowScript, venvPython } from './support/mlflow-python';
import { uniqueName } from './support/stack';
import { useWorkerHost } from './support/worker-host';

const INPUT_SHAPE = [3, 64, 32];
const QUICK_BENCHMARK = { batchSizes: [1], maxRuns: 5, timeBudgetMs: 500, gpu: false };

describe('the published signature follows the bundle (MLflow client)', () => {
  const live = useWorkerHost();
  let checkpointUri: string;
  let python: string;

  beforeAll(async () => {
    const bundle = await makeBundle({ ...SMALL_CONVNEXT, inputShape: INPUT_SHAPE });
    checkpointUri = (await uploadBundle(live.config, bundle)).uri;
    python = venvPython(live.config);
  });

  it('a bundle with input_shape [3, 64, 32] registers a version whose signature MLflow reads as [-1, 3, 64, 32]', async () => {
    const modelName = uniqueName('signature');
    const started = await startExport(live.client, {
      checkpointUri,
      modelName,
      runId: uniqueName('run'),
      benchmark: QUICK_BENCHMARK,
    });
    const result = await started.handle.result();
    expect(result.emission.signature.inputs).toEqual([
      { name: 'mel_spectrogram', dtype: 'float32', shape: [-1, ...INPUT_SHAPE] },
    ]);

    type Specs = { name: string; dtype: string; shape: number[] }[];
    const read = runMlflowScript<{ inputs: Specs; outputs: Specs }>(live.config, python, 'mlflow_signature_check.py', [
      result.registry.modelUri,
    ]);
    expect(read.inputs).toEqual([{ name: 'mel_spectrogram', dtype: 'float32', shape: [-1, ...INPUT_SHAPE] }]);
    expect(read.outputs).toEqual([
      { name: 'positions', dtype: 'float32', shape: [-1, 2] },
      { name: 'uncertainties', dtype: 'float32', shape: [-1, 2] },
    ]);
  });
});
