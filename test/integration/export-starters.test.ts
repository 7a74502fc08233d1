/**
 * The three ways an export is started, each for a small custom ConvNeXt and for the real
 * convnext_tiny (PyTorch-made bundles), against the real Temporal, MinIO and MLflow:
 *   - the CLI (`onnx-export run <bundle-dir> --wait --json`, the built bin, as a user runs it),
 *   - the TypeScript training parent (workflows/training-parent.ts, exportModel as a child),
 *   - the Python training parent (workflows/python/training_parent.py, the `temporalio` package).
 * Each leaves exactly one published model directory and one registry version, and a second start of
 * the same export (same model name and run id) returns that same version.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import type { PipelineConfig } from '../../config/environment';
import { uploadBundle } from '../../client/bundle-upload';
import { TASK_QUEUES } from '../../common/constants';
import { MlflowClient } from '../../registry/mlflow-client';
import { createMinioClient } from '../../storage/minio-client';
import type { ExportResult } from '../../workflows/export-model';
import { makeBundle, SMALL_CONVNEXT, type FixtureOptions } from './support/fixtures';
import { pythonParentEnv } from './support/python-parent';
import { useWorkerHost } from './support/worker-host';
import { uniqueName } from './support/stack';

const run = promisify(execFile);
const QUICK_BENCHMARK = { batchSizes: [1], maxRuns: 10, timeBudgetMs: 500, gpu: false };
const SIZES: Record<string, FixtureOptions> = { small: SMALL_CONVNEXT, convnext_tiny: { backbone: 'convnext_tiny' } };

describe.each(Object.keys(SIZES))('export of %s, started three ways', (size) => {
  const live = useWorkerHost();
  let config: PipelineConfig;
  let client: Client;
  let bundleDir: string;
  let checkpointUri: string;

  beforeAll(async () => {
    ({ config, client } = live);
    bundleDir = await makeBundle({ ...SIZES[size], seed: 7 });
    checkpointUri = (await uploadBundle(config, bundleDir)).uri;
  });

  async function expectOnePublishedVersion(result: ExportResult): Promise<void> {
    const minio = createMinioClient(config.s3);
    const mlmodels: string[] = [];
    for await (const o of minio.listObjectsV2(config.s3.modelsBucket, `models/${result.modelName}/`, true))
      if (o.name?.endsWith('/MLmodel')) mlmodels.push(o.name);
    expect(mlmodels).toEqual([`models/${result.modelName}/${result.sha256}/MLmodel`]);
    const versions = await new MlflowClient(config.mlflow.trackingUri).searchModelVersions(
      `name='${result.modelName}'`,
    );
    expect(versions.map((v) => v.version)).toEqual([result.registry.version]);
    expect(result.parity.passed).toBe(true);
    expect(
      Math.max(result.parity.outputs.positions!.mae, result.parity.outputs.uncertainties!.mae),
    ).toBeLessThanOrEqual(1e-6);
  }

  it('by the CLI', async () => {
    const modelName = uniqueName(`cli-${size}`);
    const cli = join(config.projectRoot, 'bin', 'onnx-export.js');
    const args = [
      cli,
      'run',
      bundleDir,
      '--model-name',
      modelName,
      '--run-id',
      'r1',
      '--batch',
      '1',
      '--no-gpu',
      '--wait',
      '--json',
    ];
    const first = JSON.parse((await run('node', args, { timeout: 600_000 })).stdout) as ExportResult;
    expect(first.workflowId).toBe(`export-${modelName}-r1`);
    await expectOnePublishedVersion(first);
    const again = JSON.parse((await run('node', args, { timeout: 600_000 })).stdout) as ExportResult;
    expect(again.registry.version).toBe(first.registry.version);
    await expectOnePublishedVersion(again);
  });

  it('by the TypeScript training parent (exportModel as a child)', async () => {
    const modelName = uniqueName(`ts-${size}`);
    const input = { checkpointUri, runId: 'r1', modelName, export: { benchmark: QUICK_BENCHMARK } };
    const first = await client.workflow.execute('trainingWithExport', {
      taskQueue: TASK_QUEUES.export,
      workflowId: uniqueName('ts-parent'),
      args: [input],
    });
    await expectOnePublishedVersion(first as ExportResult);
    // A second parent for the same run: its child start collides and it waits for the first export.
    const second = (await client.workflow.execute('trainingWithExport', {
      taskQueue: TASK_QUEUES.export,
      workflowId: uniqueName('ts-parent'),
      args: [input],
    })) as ExportResult;
    expect(second.registry.version).toBe((first as ExportResult).registry.version);
    expect(second.workflowId).toBe((first as ExportResult).workflowId);
    await expectOnePublishedVersion(second);
  });

  it('the Python training parent refuses a request the JSON Schema refuses, before starting anything', async () => {
    const modelName = uniqueName(`py-bad-${size}`);
    const venv = (await run('bash', [join(config.projectRoot, 'scripts', 'ensure-python-venv.sh')])).stdout.trim();
    const script = join(config.projectRoot, 'workflows', 'python', 'training_parent.py');
    const args = [script, '--checkpoint-uri', checkpointUri, '--run-id', 'r1', '--model-name', modelName];
    const env = pythonParentEnv(config);
    const refused = await run(
      join(venv, 'bin', 'python'),
      [...args, '--export-json', JSON.stringify({ opset_version: 17, benchmark: { gpu: 'yes' } })],
      { env },
    ).then(
      () => undefined,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toMatch(/^invalid export request: /);
    expect(refused?.stderr).toContain("benchmark.gpu: 'yes' is not of type 'boolean'");
    expect(refused?.stderr).toContain("'opset_version' was unexpected");
    await expect(client.workflow.getHandle(`export-${modelName}-r1`).describe()).rejects.toThrow(/not found/i);
  });

  it('by the Python training parent (temporalio from PyPI)', async () => {
    const modelName = uniqueName(`py-${size}`);
    const venv = (await run('bash', [join(config.projectRoot, 'scripts', 'ensure-python-venv.sh')])).stdout.trim();
    const script = join(config.projectRoot, 'workflows', 'python', 'training_parent.py');
    const args = [
      script,
      '--checkpoint-uri',
      checkpointUri,
      '--run-id',
      'r1',
      '--model-name',
      modelName,
      '--export-json',
      JSON.stringify({ benchmark: QUICK_BENCHMARK }),
    ];
    const env = pythonParentEnv(config);
    const first = JSON.parse(
      (await run(join(venv, 'bin', 'python'), args, { env, timeout: 600_000 })).stdout,
    ) as ExportResult;
    expect(first.workflowId).toBe(`export-${modelName}-r1`);
    await expectOnePublishedVersion(first);
    const second = JSON.parse(
      (await run(join(venv, 'bin', 'python'), args, { env, timeout: 600_000 })).stdout,
    ) as ExportResult;
    expect(second.registry.version).toBe(first.registry.version);
    await expectOnePublishedVersion(second);
  });
});
