/**
 * Bring-your-own graph bundles of the training service's models (HeimdallNet, TriangulationModel,
 * IQResNet18), made by scripts/fixtures/make_heimdall_bundle.py with Debian's /usr/bin/python3 and its
 * torch: `model.onnx` from torch.onnx.export plus `reference.safetensors` cases, optionally calibration
 * inputs and holdout cases. For tests that need a graph the pipeline did not emit. Bundles live in temp
 * dirs removed after the importing test file; this module never judges a bundle.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { findProjectRoot } from '../../../config/environment';

const run = promisify(execFile);
/** Debian's python3-torch (1.13); the fixture scripts need nothing else. */
export const TORCH_PYTHON = '/usr/bin/python3';
export const FIXTURE_DIR = join(findProjectRoot(), 'scripts', 'fixtures');
/** A HeimdallNet export traces ten copies of its encoder (~10 s alone); a loaded 2-core machine is slower. */
const BUNDLE_TIMEOUT_MS = 180_000;

export type HeimdallModel = 'heimdall_net' | 'triangulation_model' | 'iq_resnet18';

/**
 * `service`: as the training service exports (HeimdallNet's graph is NaN for every input);
 * `service-atan2-repaired`: HeimdallNet only, atan2 fixed, batch and receiver ids still baked;
 * `dynamic`: TriangulationModel and IQResNet18 exported correctly (batch, receivers, seq_len symbolic).
 */
export type HeimdallExport = 'service' | 'service-atan2-repaired' | 'dynamic';

export interface GraphBundleOptions {
  model: HeimdallModel;
  export: HeimdallExport;
  /** Weights, inputs and dummies all follow it; the files are byte-identical for one seed. Default 3. */
  seed?: number;
  /** Default 14, the training service's. */
  opset?: number;
  /** `default`: the model's several cases; `single`: its first case in the one-case form. */
  cases?: 'default' | 'single';
  /** Also write calibration.safetensors: each reference case's shapes at this batch. */
  calibrationSamples?: number;
  /** Also write holdout cases (batch 1 and 5, not in the reference) beside the bundle, not in it. */
  holdout?: boolean;
  /** R: max_receivers, and the receiver count of the export's dummy. Default 10. */
  maxReceivers?: number;
  /** The export dummy's batch. Default 1, the training service's. */
  exportBatch?: number;
}

/** What make_heimdall_bundle.py prints: the cases' shapes, the files and its wall times. */
export interface GraphBundleSummary {
  model: HeimdallModel;
  export: HeimdallExport;
  opset: number;
  seed: number;
  torch: string;
  files: string[];
  cases: Record<string, Record<string, number[]>>;
  uncertainties_on_clamp_bounds: string[];
  export_seconds: number;
  total_seconds: number;
}

export interface GraphBundle {
  /** model.onnx, reference.safetensors and, when asked, calibration.safetensors. */
  dir: string;
  /** The holdout cases' file (outside `dir`), when asked. */
  holdoutPath?: string;
  summary: GraphBundleSummary;
}

const made: string[] = [];
// Registered on the importing test file's root suite (vitest loads this module once per file).
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The script's arguments for `options`, bundle in `dir` (exported for tests that run it themselves). */
export function bundleArgs(options: GraphBundleOptions, dir: string, holdoutPath?: string): string[] {
  const args = [join(FIXTURE_DIR, 'make_heimdall_bundle.py'), '--model', options.model, '--export', options.export];
  args.push('--out', dir, '--seed', String(options.seed ?? 3), '--opset', String(options.opset ?? 14));
  args.push('--cases', options.cases ?? 'default');
  if (options.calibrationSamples) args.push('--calibration-samples', String(options.calibrationSamples));
  if (holdoutPath) args.push('--holdout', holdoutPath);
  if (options.maxReceivers) args.push('--max-receivers', String(options.maxReceivers));
  if (options.exportBatch) args.push('--export-batch', String(options.exportBatch));
  return args;
}

/** Makes a bundle; rejects with the script's own message when it refuses (e.g. iq_resnet18's service export). */
export async function makeGraphBundle(options: GraphBundleOptions): Promise<GraphBundle> {
  const root = mkdtempSync(join(tmpdir(), `onnx-export-${options.model}-`));
  made.push(root);
  const dir = join(root, 'bundle');
  const holdoutPath = options.holdout ? join(root, 'holdout.safetensors') : undefined;
  try {
    const { stdout } = await run(TORCH_PYTHON, bundleArgs(options, dir, holdoutPath), {
      timeout: BUNDLE_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
    const summary = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as GraphBundleSummary;
    return { dir, ...(holdoutPath ? { holdoutPath } : {}), summary };
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`make_heimdall_bundle.py ${options.model} ${options.export}: ${stderr || String(error)}`);
  }
}
