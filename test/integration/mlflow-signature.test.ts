/**
 * Integration: the MLmodel signature is the emitted graph's own. A bundle whose config.json has a
 * non-default input_shape ([3, 64, 32]) is exported by the real exportModel workflow, and MLflow's
 * own Python client (mlflow.models.get_model_info in the stack's virtualenv) reads back that shape,
 * not LocalizationNet's default [3, 128, 32].
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { uniqueName } from './support/stack';
import { useWorkerHost } from './support/worker-host';

const INPUT_SHAPE = [3, 64, 32];
const QUICK_BENCHMARK = { batchSizes: [1], maxRuns: 5, timeBudgetMs: 500, gpu: false };

describe('the published signature follows the bundle (MLflow client)', () => {
  const live = useWorkerHost();
  let checkpointUri: string;
  let venvPython: string;

  beforeAll(async () => {
    const bundle = await makeBundle({ ...SMALL_CONVNEXT, inputShape: INPUT_SHAPE });
    checkpointUri = (await uploadBundle(live.config, bundle)).uri;
    const venv = execFileSync('bash', [join(live.config.projectRoot, 'scripts/ensure-python-venv.sh')], { encoding: 'utf8' });
    venvPython = join(venv.trim().split('\n').pop() ?? '', 'bin/python');
  });

  it('a bundle with input_shape [3, 64, 32] registers a version whose signature MLflow reads as [-1, 3, 64, 32]', async () => {
    const modelName = uniqueName('signature');
    const started = await startExport(live.client, { checkpointUri, modelName, runId: uniqueName('run'), benchmark: QUICK_BENCHMARK });
    const result = await started.handle.result();
    expect(result.emission.signature.inputs).toEqual([{ name: 'mel_spectrogram', dtype: 'float32', shape: [-1, ...INPUT_SHAPE] }]);

    const { config } = live;
    const out = execFileSync(venvPython, [join(config.projectRoot, 'test/python/mlflow_signature_check.py'), result.registry.modelUri], {
      encoding: 'utf8',
      env: {
        ...process.env,
        MLFLOW_TRACKING_URI: config.mlflow.trackingUri,
        ...(config.mlflow.token ? { MLFLOW_TRACKING_TOKEN: config.mlflow.token } : {}),
        MLFLOW_S3_ENDPOINT_URL: config.s3.endpoint,
        AWS_ACCESS_KEY_ID: config.s3.accessKey,
        AWS_SECRET_ACCESS_KEY: config.s3.secretKey,
        AWS_DEFAULT_REGION: config.s3.region,
      },
    });
    const read = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { inputs: unknown[]; outputs: unknown[] };
    expect(read.inputs).toEqual([{ name: 'mel_spectrogram', dtype: 'float32', shape: [-1, ...INPUT_SHAPE] }]);
    expect(read.outputs).toEqual([
      { name: 'positions', dtype: 'float32', shape: [-1, 2] },
      { name: 'uncertainties', dtype: 'float32', shape: [-1, 2] },
    ]);
  });
});
