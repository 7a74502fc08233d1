/**
 * Integration: promoteModel against the real Temporal, MinIO and MLflow. Two versions of one
 * PyTorch-made bundle (opset 17 and 18) are exported by exportModel on a real worker host; the
 * `onnx-export promote` CLI (dist/, `npm run build` first) and the typed starter promote them, and
 * MLflow's own Python client (the stack's virtualenv) checks what a consumer sees: the version by
 * alias and by stage, and `models:/<name>/Production` downloaded and run in onnxruntime's CPU
 * provider against the bundle's reference outputs. A gate that fails moves nothing; promoting the
 * first version again rolls back and archives the second.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import { startPromotion } from '../../client/promote-starter';
import type { PromotionResult } from '../../common/promotion';
import { MlflowClient } from '../../registry/mlflow-client';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { runMlflowScript, venvPython } from './support/mlflow-python';
import { uniqueName } from './support/stack';
import { useWorkerHost } from './support/worker-host';

const run = promisify(execFile);
const QUICK_BENCHMARK = { batchSizes: [1], maxRuns: 5, timeBudgetMs: 500, gpu: false };
/** What Heimdall accepts from the Production model vs PyTorch's reference outputs. */
const OUTPUT_TOLERANCE = 1e-4;
/** Gates every fixture export passes: parity is ~1e-7 here, and p95 is far below a second per batch of 1. */
const PASSING = ['--max-mae', '1e-3', '--max-p95-ms', '60000'];

interface ConsumerView {
  by_alias: string | null;
  latest_in_stage: string[];
  searched_in_stage: string[];
  stages: Record<string, string>;
  downloaded_sha256?: string;
  providers?: string[];
  outputs?: Record<'positions' | 'uncertainties', { max_abs: number; shape: number[] }>;
}

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

describe('promoteModel (Temporal, MinIO, MLflow, MLflow Python client)', () => {
  const live = useWorkerHost();
  const modelName = uniqueName('promote');
  let bundle: string;
  let python: string;
  let first: { version: string; sha256: string };
  let second: { version: string; sha256: string };

  const cli = async (args: string[]): Promise<CliRun> => {
    try {
      const out = await run(process.execPath, [join(live.config.projectRoot, 'bin/onnx-export.js'), ...args], {
        env: process.env,
      });
      return { code: 0, stdout: out.stdout, stderr: out.stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
  const consumer = (stage: string, reference = true): ConsumerView =>
    runMlflowScript<ConsumerView>(live.config, python, 'mlflow_promote_check.py', [
      modelName,
      'production',
      stage,
      reference ? join(bundle, 'reference.safetensors') : '-',
    ]);

  beforeAll(async () => {
    python = venvPython(live.config);
    bundle = await makeBundle(SMALL_CONVNEXT);
    const checkpointUri = (await uploadBundle(live.config, bundle)).uri;
    const exportAt = async (opset: number) => {
      const started = await startExport(live.client, {
        checkpointUri,
        modelName,
        runId: uniqueName(`run-opset${opset}`),
        opset,
        benchmark: QUICK_BENCHMARK,
      });
      const result = await started.handle.result();
      return { version: result.registry.version, sha256: result.sha256 };
    };
    [first, second] = await Promise.all([exportAt(17), exportAt(18)]);
    expect(first.sha256).not.toBe(second.sha256);
  });

  afterAll(async () => {
    const mlflow = new MlflowClient(live.config.mlflow.trackingUri, live.config.mlflow.token);
    await mlflow.call('DELETE', 'registered-models/delete', { name: modelName }).catch(() => undefined);
  });

  it('the CLI promotes a version to @production and Production; MLflow finds it both ways and its ONNX runs on CPU like the reference', async () => {
    const out = await cli([
      'promote',
      modelName,
      first.version,
      '--to',
      'production',
      '--legacy-stage',
      'Production',
      ...PASSING,
      '--json',
    ]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const result = JSON.parse(out.stdout) as PromotionResult & { ok: boolean; link: string };
    const tags = (await new MlflowClient(live.config.mlflow.trackingUri).getModelVersion(modelName, first.version))
      ?.tags;
    const tag = (k: string) => Number(tags?.find((t) => t.key === k)?.value);
    expect(result).toMatchObject({
      ok: true,
      workflowId: `promote-${modelName}-production-${first.version}`,
      version: first.version,
      verdict: 'promoted',
      gates: { maxMae: 1e-3, maxP95Ms: 60000 },
      alias: { alias: 'production', previousVersion: null, changed: true },
      stage: { stage: 'Production', previousStage: 'None', archived: [], changed: true },
      check: {
        verdict: 'pass',
        sha256: first.sha256,
        recorded: { parityMeanAbsError: tag('parity_mean_abs_error'), cpuP95Ms: tag('cpu_p95_ms') },
        previousStageVersions: [],
      },
    });
    expect(result.check.checks.map((c) => [c.gate, c.passed])).toEqual([
      ['maxMae', true],
      ['maxP95Ms', true],
    ]);

    const seen = consumer('Production');
    expect(seen).toMatchObject({
      by_alias: first.version,
      latest_in_stage: [first.version],
      searched_in_stage: [first.version],
      downloaded_sha256: first.sha256,
      providers: ['CPUExecutionProvider'],
    });
    expect(seen.outputs?.positions.max_abs).toBeLessThanOrEqual(OUTPUT_TOLERANCE);
    expect(seen.outputs?.uncertainties.max_abs).toBeLessThanOrEqual(OUTPUT_TOLERANCE);

    // Audited in the Web UI: the static summary, ModelName, and one summary per activity.
    const handle = live.client.workflow.getHandle(result.workflowId);
    const description = await handle.describe();
    expect(await description.staticSummary()).toBe(
      `Promote ${modelName} v${first.version} to @production and stage Production`,
    );
    expect(description.searchAttributes.ModelName).toEqual([modelName]);
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => Buffer.from(e.userMetadata?.summary?.data ?? new Uint8Array()).toString('utf8'));
    expect(summaries).toHaveLength(3);
    expect(summaries[0]).toContain(`Check gates of ${modelName} v${first.version}`);
    expect(summaries[1]).toContain('Point @production');
    expect(summaries[2]).toContain('to stage Production');
  });

  it('promoting the same version again runs again and moves nothing', async () => {
    const again = await startPromotion(live.client, {
      modelName,
      version: first.version,
      alias: 'production',
      legacyStage: 'Production',
    });
    const result = await again.handle.result();
    expect(result.alias).toEqual({
      alias: 'production',
      version: first.version,
      previousVersion: first.version,
      changed: false,
    });
    expect(result.stage).toMatchObject({ previousStage: 'Production', archived: [], changed: false });
    expect(consumer('Production', false)).toMatchObject({ by_alias: first.version, latest_in_stage: [first.version] });
  });

  it('a gate it cannot meet refuses: the workflow fails, the CLI exits 1 naming the gate, nothing moves', async () => {
    const mae = Number(
      (await new MlflowClient(live.config.mlflow.trackingUri).getModelVersion(modelName, second.version))?.tags?.find(
        (t) => t.key === 'parity_mean_abs_error',
      )?.value,
    );
    expect(mae).toBeGreaterThan(1e-12); // else the gate below could pass and this test would prove nothing

    const out = await cli([
      'promote',
      modelName,
      second.version,
      '--to',
      'production',
      '--legacy-stage',
      'Production',
      '--max-mae',
      '1e-12',
      '--json',
    ]);
    expect(out.code).toBe(1);
    const refused = JSON.parse(out.stdout) as { ok: boolean; failureType: string; reason: string; workflowId: string };
    expect(refused).toMatchObject({ ok: false, failureType: 'PromotionRefused' });
    expect(refused.reason).toContain("--max-mae 1e-12: tag 'parity_mean_abs_error' records");
    expect(out.stderr).toContain('--max-mae 1e-12');
    const description = await live.client.workflow.getHandle(refused.workflowId).describe();
    expect(description.status.name).toBe('FAILED');

    const seen = consumer('Production', false);
    expect(seen).toMatchObject({ by_alias: first.version, latest_in_stage: [first.version] });
    expect(seen.stages[second.version]).toBe('None');
  });

  it('rollback: promoting the second version archives the first; promoting the first again archives the second', async () => {
    const forward = await (
      await startPromotion(live.client, {
        modelName,
        version: second.version,
        alias: 'production',
        legacyStage: 'Production',
        gates: { maxMae: 1e-3 },
      })
    ).handle.result();
    expect(forward.alias).toMatchObject({ previousVersion: first.version, changed: true });
    expect(forward.stage).toMatchObject({ archived: [first.version], changed: true });
    const after = consumer('Production');
    expect(after).toMatchObject({
      by_alias: second.version,
      latest_in_stage: [second.version],
      downloaded_sha256: second.sha256,
    });
    expect(after.stages[first.version]).toBe('Archived');

    const back = await cli([
      'promote',
      modelName,
      first.version,
      '--to',
      'production',
      '--legacy-stage',
      'Production',
      '--json',
    ]);
    expect(back.code).toBe(0);
    const rolledBack = JSON.parse(back.stdout) as PromotionResult;
    expect(rolledBack.alias).toMatchObject({ previousVersion: second.version, changed: true });
    expect(rolledBack.stage).toMatchObject({ previousStage: 'Archived', archived: [second.version], changed: true });
    const seen = consumer('Production');
    expect(seen).toMatchObject({
      by_alias: first.version,
      latest_in_stage: [first.version],
      searched_in_stage: [first.version],
      downloaded_sha256: first.sha256,
    });
    expect(seen.stages[second.version]).toBe('Archived');
    expect(seen.outputs?.positions.max_abs).toBeLessThanOrEqual(OUTPUT_TOLERANCE);
  });
});
