/**
 * No credential reaches Temporal: after a full export (a TypeScript training parent starting
 * exportModel as its child, every stage run on a real worker host against the real Temporal, MinIO
 * and MLflow), both workflows' histories, exported as JSON, contain none of the worker's credentials
 * (S3 access key and secret key, the MLflow token when set): not in clear text, not inside the
 * decoded base64 payloads, not as base64 text.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import type { PipelineConfig } from '../../config/environment';
import { uploadBundle } from '../../client/bundle-upload';
import { TASK_QUEUES } from '../../common/constants';
import { exportWorkflowId } from '../../common/export-contract';
import type { TrainingRunInput } from '../../workflows/training-parent';
import type { ExportResult } from '../../workflows/export-model';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { credentialsIn, decodedPayloads, findSecrets } from './support/history-secrets';
import { useWorkerHost } from './support/worker-host';
import { uniqueName } from './support/stack';

/** Small benchmark settings, as in export-model.test.ts: the export must complete, not measure. */
const QUICK_BENCHMARK = {
  batchSizes: [1, 4],
  maxRuns: 20,
  timeBudgetMs: 1_000,
  gpuScheduleToStartTimeout: '3 seconds',
};

/** The worker's credentials: from its config and from the environment variables it reads. */
function credentials(config: PipelineConfig): string[] {
  return credentialsIn(process.env, [config.s3.accessKey, config.s3.secretKey, config.mlflow.token]);
}

describe('no secrets in workflow histories (Temporal, MinIO, MLflow, PyTorch fixtures)', () => {
  const live = useWorkerHost();
  let config: PipelineConfig;
  let client: Client;

  beforeAll(() => {
    ({ config, client } = live);
  });

  it('the detector finds a credential planted in clear text, in a payload and as nested base64', () => {
    const secret = 'Zq8-planted-SECRET-4711';
    const payload = (text: string) =>
      JSON.stringify({
        events: [{ input: { payloads: [{ metadata: {}, data: Buffer.from(text).toString('base64') }] } }],
      });
    expect(findSecrets(JSON.stringify({ note: `key=${secret}` }), [secret]).map((h) => h.where)).toContain(
      'clear text',
    );
    expect(findSecrets(payload(JSON.stringify({ key: secret })), [secret]).map((h) => h.where)).toContain(
      'decoded payload',
    );
    for (const prefix of ['', 'a', 'ab']) {
      const nested = Buffer.from(`${prefix}${secret}!`).toString('base64');
      expect(findSecrets(payload(JSON.stringify({ blob: nested })), [secret]).map((h) => h.where)).toContain('base64');
    }
    expect(findSecrets(payload('{"nothing":"here"}'), [secret])).toEqual([]);
  });

  it('a full export through a training parent leaves no credential in either history', async () => {
    const secrets = credentials(config);
    // The local stack's MinIO uses one word for both keys; the test stack draws two random ones.
    expect(secrets, 'the worker has S3 credentials to look for').toEqual(
      expect.arrayContaining([config.s3.accessKey, config.s3.secretKey]),
    );

    const checkpointUri = (await uploadBundle(config, await makeBundle(SMALL_CONVNEXT))).uri;
    const input: TrainingRunInput = {
      checkpointUri,
      runId: uniqueName('run'),
      modelName: uniqueName('nosecret'),
      export: { benchmark: QUICK_BENCHMARK },
    };
    const parent = await client.workflow.start('trainingWithExport', {
      taskQueue: TASK_QUEUES.export,
      workflowId: uniqueName('secrets-parent'),
      args: [input],
    });
    const result = (await parent.result()) as ExportResult;
    expect(result.registry.version).toBe('1');

    const child = client.workflow.getHandle(exportWorkflowId(input.modelName ?? '', input.runId));
    for (const [label, handle] of [
      ['trainingWithExport', parent],
      ['exportModel', child],
    ] as const) {
      const json = JSON.stringify(await handle.fetchHistory());
      // The decoder sees the real payloads: the request (checkpoint URI) is in them, not in clear text.
      expect(decodedPayloads(JSON.parse(json)).join('\n'), `${label}: decoded payloads`).toContain(checkpointUri);
      expect(findSecrets(json, secrets), `${label}: credentials in history`).toEqual([]);
    }
  });
});
