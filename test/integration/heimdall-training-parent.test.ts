/**
 * The Python training parent for HeimdallNet (workflows/python/heimdall_training_parent.py, the
 * `temporalio` package) against the real Temporal, MinIO and MLflow. Its input is a training result as
 * the training service saves it: a `best_model.pth` dict (weights, Adam's and the scheduler's state,
 * `config` with model_architecture and max_receivers), made by the fixtures (makeWeightsBundle). The
 * parent writes reference.safetensors from the model with the docs' snippet (Debian's torch runs that
 * step), uploads the bare bundle (the .pth and the reference, no config.json) under its content
 * address, and starts exportModel as its child. The export registers a HeimdallNet version that
 * MLflow's pyfunc and onnx flavors load and predict with, like PyTorch, on holdout cases the
 * reference never held, at batch 1 and 5.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../config/environment';
import { createMinioClient } from '../../storage/minio-client';
import type { ExportResult } from '../../workflows/export-model';
import { TORCH_PYTHON, makeWeightsBundle } from './support/heimdall-fixtures';
import { mlflowClientEnv, venvPython } from './support/mlflow-python';
import { pythonParentEnv } from './support/python-parent';
import { requireStack, uniqueName } from './support/stack';
import { useWorkerHost } from './support/worker-host';

const run = promisify(execFile);
const QUICK_BENCHMARK = { batchSizes: [1], maxRuns: 10, timeBudgetMs: 500, gpu: false };
/** What MLflow's client must reproduce of PyTorch's outputs from the fp32 version (the bound). */
const FP32_MLFLOW_MAX_ABS = 1e-5;

const scratch = mkdtempSync(join(tmpdir(), 'onnx-export-heimdall-parent-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function sha256(path: string): string {
  return execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0] ?? '';
}

function safetensorsKeys(path: string): string[] {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  return Object.keys(JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as object).sort();
}

interface MlflowCasesReport {
  ok: boolean;
  errors: { loader: string; case: string; batch: number; output: string; max_abs?: number }[];
  problems: string[];
}

describe('the Python HeimdallNet training parent (Temporal, MinIO, MLflow)', () => {
  useWorkerHost();
  let config: PipelineConfig;
  let python: string;

  beforeAll(async () => {
    config = await requireStack();
    python = venvPython(config);
  });

  it("from a best_model.pth: reference cases written with the docs' snippet, the bare .pth bundle uploaded content-addressed, exportModel started as its child; the registered HeimdallNet version predicts holdout cases in MLflow like PyTorch", async () => {
    const training = await makeWeightsBundle({ model: 'heimdall_net', weights: 'pth', holdout: true });
    const modelName = uniqueName('py-heimdall');
    const runId = uniqueName('run');
    const workDir = join(scratch, 'work');
    const script = join(config.projectRoot, 'workflows', 'python', 'heimdall_training_parent.py');
    const args = [
      script,
      '--checkpoint',
      training.weightsPath,
      '--run-id',
      runId,
      '--model-name',
      modelName,
      '--torch-python',
      TORCH_PYTHON,
      '--work-dir',
      workDir,
      '--export-json',
      JSON.stringify({ benchmark: QUICK_BENCHMARK }),
    ];
    const env = pythonParentEnv(config, { objectStore: true });
    const done = await run(python, args, { env, timeout: 900_000, maxBuffer: 64 * 1024 * 1024 }).then(
      ({ stdout }) => ({ ok: true as const, result: JSON.parse(stdout) as ExportResult }),
      (e: unknown) => ({ ok: false as const, stderr: String((e as { stderr?: string }).stderr ?? e) }),
    );

    // The reference: the parent's two cases, every input and output (written before the export starts).
    const reference = join(workDir, runId, 'reference.safetensors');
    if (!existsSync(reference))
      throw new Error(`the parent wrote no reference: ${done.ok ? '' : done.stderr.slice(-3000)}`);
    const names = ['features', 'iq_data', 'mask', 'position', 'positions', 'receiver_ids', 'uncertainty'];
    expect(safetensorsKeys(reference)).toEqual(['r4', 'r7'].flatMap((c) => names.map((n) => `${c}/${n}`)));

    // The bare bundle in the checkpoints bucket: the .pth as it is and the reference, nothing else.
    const minio = createMinioClient(config.s3);
    const pthSha = sha256(training.weightsPath);
    const bundles = new Map<string, Record<string, string>>();
    for await (const o of minio.listObjectsV2(config.s3.checkpointsBucket, 'bundles/', true)) {
      const [, id, file] = (o.name ?? '').split('/');
      if (!id || !file) continue;
      const stat = await minio.statObject(config.s3.checkpointsBucket, o.name ?? '');
      bundles.set(id, { ...bundles.get(id), [file]: String(stat.metaData.sha256) });
    }
    // Found by the reference the parent wrote: other tests' bundles may carry the same fixture .pth
    // (parity-diagnosis's graph bundles bring it beside a torch export).
    const ours = [...bundles.entries()].filter(([, files]) => files['reference.safetensors'] === sha256(reference));
    expect(ours.map(([, files]) => files)).toEqual([
      { 'best_model.pth': pthSha, 'reference.safetensors': sha256(reference) },
    ]);

    if (!done.ok) throw new Error(`the parent's export failed: ${done.stderr.slice(-3000)}`);
    const { result } = done;
    expect(result.workflowId).toBe(`export-${modelName}-${runId}`);
    expect(result.checkpointUri).toBe(`s3://${config.s3.checkpointsBucket}/bundles/${ours[0]?.[0]}/`);
    expect(result.emission).toMatchObject({ source: 'emitted', architecture: 'heimdall_net' });
    expect(result.parity.passed).toBe(true);
    expect(result.parity.cases?.map((c) => c.name)).toEqual(['r4', 'r7']);

    const check = join(config.projectRoot, 'test/python/mlflow_cases_check.py');
    const out = execFileSync(
      python,
      [check, result.registry.modelUri, training.holdoutPath ?? '', String(FP32_MLFLOW_MAX_ABS), '1,5'],
      { encoding: 'utf8', env: mlflowClientEnv(config) },
    );
    const report = JSON.parse(out.trim().split('\n').pop() ?? '{}') as MlflowCasesReport;
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(new Set(report.errors.map((e) => `${e.loader}@${e.batch}`))).toEqual(
      new Set(['pyfunc@1', 'pyfunc@5', 'onnx@1', 'onnx@5']),
    );
  });
});
