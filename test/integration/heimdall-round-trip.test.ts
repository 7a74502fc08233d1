/**
 * The round trip, as a user runs it: for each of HeimdallNet, TriangulationModel and IQResNet18,
 * a bare `best_model.pth` as the training service saves it (model_state_dict, Adam's optimizer state,
 * the scheduler's, losses and its config; Debian's torch 1.13) and a bare Lightning `.ckpt`
 * (state_dict with the `model.` prefix, hyper_parameters, loops and callbacks; torch 2.x), neither with
 * a config.json, go through `onnx-export emit` and then `onnx-export parity` (the built CLI,
 * bin/onnx-export.js, in a child process). The emitted graph must pass the gate, 1e-5 MAE and
 * 1e-4 max abs, on every case and batch split of:
 * - the holdout cases the reference never held: batch 1 (5 receivers, L 2048) and batch 5 (6
 *   receivers, L 1024), each run whole and at batch 1 (batch 5 also split unevenly);
 * - the bundle's reference cases.
 * The weights and cases come from scripts/fixtures/make_heimdall_bundle.py (`--export none`, seed 3),
 * one bundle per model and file kind, shared by the file's tests. The safetensors form of the same
 * weights at several opsets, and the edge cases, are heimdall-net-parity and attention-parity's.
 * Servers: none (no Temporal, MinIO or MLflow). Needs /usr/bin/python3 with torch and the torch 2.x
 * venv; without them the test fails (it is not skipped).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { findProjectRoot } from '../../config/environment';
import { sha256File } from '../../hashing';
import type { EmitResult } from '../../models';
import type { ParityReport } from '../../parity';
import {
  makeWeightsBundle,
  type HeimdallModel,
  type TorchVersion,
  type WeightsBundle,
  type WeightsFormat,
} from './support/heimdall-fixtures';

const run = promisify(execFile);
const CLI = join(findProjectRoot(), 'bin', 'onnx-export.js');
/** The gate for emitted graphs. */
const TOLERANCES = { mae: '1e-5', maxAbs: '1e-4' } as const;
const MODELS: readonly HeimdallModel[] = ['heimdall_net', 'triangulation_model', 'iq_resnet18'];
/** The training service's .pth from Debian's torch, a Lightning .ckpt from a current torch. */
const FILES: readonly { readonly weights: WeightsFormat; readonly torch: TorchVersion }[] = [
  { weights: 'pth', torch: 'debian' },
  { weights: 'ckpt', torch: 'torch2' },
];
/** make_heimdall_bundle.py's holdout cases for a weights bundle: batch 1 and 5. */
const HOLDOUT_BATCHES = [1, 5];

const measured: string[] = [];

/** `onnx-export <args> --json` in a child process: its parsed JSON and exit code (parity exits 1 on failure). */
async function cli<T>(...args: string[]): Promise<{ json: T; exitCode: number }> {
  try {
    const { stdout } = await run('node', [CLI, ...args, '--json'], { timeout: 300_000, maxBuffer: 16 << 20 });
    return { json: JSON.parse(stdout) as T, exitCode: 0 };
  } catch (error) {
    const { stdout, stderr, code } = error as { stdout?: string; stderr?: string; code?: number };
    if (typeof code !== 'number' || !stdout) throw new Error(`onnx-export ${args[0]}: ${stderr || String(error)}`);
    return { json: JSON.parse(stdout) as T, exitCode: code };
  }
}

async function parity(model: string, reference: string): Promise<{ report: ParityReport; exitCode: number }> {
  const { json, exitCode } = await cli<ParityReport>(
    'parity',
    model,
    '--reference',
    reference,
    '--mae',
    TOLERANCES.mae,
    '--max-abs',
    TOLERANCES.maxAbs,
  );
  return { report: json, exitCode };
}

function record(what: string, report: ParityReport): void {
  const worst = Object.entries(report.outputs)
    .map(([name, e]) => `${name} MAE ${e.mae.toExponential(2)} max ${e.maxAbs.toExponential(2)}`)
    .join('; ');
  measured.push(`  ${what.padEnd(44)} ${report.samples} samples: ${worst}`);
}

const key = (model: HeimdallModel, weights: WeightsFormat) => `${model}.${weights}`;
const bundles = new Map<string, WeightsBundle>();
const emissions = new Map<string, Promise<{ path: string; result: EmitResult }>>();

/** `onnx-export emit` of the bundle, once per bundle (the parity tests share it). */
function emitted(model: HeimdallModel, weights: WeightsFormat): Promise<{ path: string; result: EmitResult }> {
  const k = key(model, weights);
  let emission = emissions.get(k);
  if (emission === undefined) {
    const bundle = bundles.get(k) as WeightsBundle;
    const path = join(bundle.dir, `${model}.onnx`);
    emission = cli<EmitResult>('emit', bundle.dir, '-o', path).then(({ json }) => ({ path, result: json }));
    emissions.set(k, emission);
  }
  return emission;
}

beforeAll(async () => {
  // One at a time: torch already uses both cores.
  for (const model of MODELS) {
    for (const { weights, torch } of FILES) {
      bundles.set(key(model, weights), await makeWeightsBundle({ model, weights, torch, holdout: true }));
    }
  }
});

describe.each(MODELS)('%s, round trip through the CLI', (model) => {
  describe.each(FILES)('from a bare .$weights ($torch torch)', ({ weights }) => {
    const bundleOf = () => bundles.get(key(model, weights)) as WeightsBundle;

    it('onnx-export emit reads the checkpoint alone (no config.json) and records its sha256', async () => {
      const bundle = bundleOf();
      expect(bundle.summary.files).not.toContain('config.json');
      const { path, result } = await emitted(model, weights);
      expect(result).toMatchObject({ source: 'emitted', architecture: model, path });
      expect(result.checkpointSha256).toBe((await sha256File(bundle.weightsPath)).sha256);
      expect(result.sha256).toBe((await sha256File(path)).sha256);
    });

    it('onnx-export parity: the holdout cases (batch 1 and 5) within 1e-5 MAE and 1e-4 max, every split', async () => {
      const { path } = await emitted(model, weights);
      const { report, exitCode } = await parity(path, bundleOf().holdoutPath as string);
      record(`${model} .${weights} holdout`, report);
      expect(report.failures).toEqual([]);
      expect(report.passed).toBe(true);
      expect(exitCode).toBe(0);
      const cases = report.cases ?? [];
      expect(cases.map((c) => c.samples)).toEqual(HOLDOUT_BATCHES);
      expect(cases.map((c) => c.name).every((name) => name.startsWith('holdout_'))).toBe(true);
      // Batch 1 runs whole; batch 5 whole, one sample at a time, and split unevenly.
      expect(cases.map((c) => c.splits.length)).toEqual([1, 3]);
      expect(report.tolerances).toEqual({ mae: 1e-5, maxAbs: 1e-4 });
    });

    it('onnx-export parity: the reference cases pass the same gate', async () => {
      const { path } = await emitted(model, weights);
      const { report, exitCode } = await parity(path, join(bundleOf().dir, 'reference.safetensors'));
      record(`${model} .${weights} reference`, report);
      expect(report.failures).toEqual([]);
      expect(exitCode).toBe(0);
      expect((report.cases ?? []).map((c) => c.samples)).toEqual([1, 3, 8]);
    });
  });
});

describe('measured', () => {
  it('prints the parity figures', () => {
    process.stdout.write(`\nround trip through the CLI, parity against PyTorch eager:\n${measured.join('\n')}\n`);
    expect(measured.length).toBeGreaterThan(0);
  });
});
