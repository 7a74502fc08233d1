/**
 * Bundles of the training service's models (HeimdallNet, TriangulationModel, IQResNet18), made by
 * scripts/fixtures/make_heimdall_bundle.py with Debian's /usr/bin/python3 and its torch (or the torch 2.x
 * venv): bring-your-own graph bundles (`makeGraphBundle`: `model.onnx` from torch.onnx.export) and
 * weights bundles for our emitters (`makeWeightsBundle`: config.json + model.safetensors, a bare
 * training-service best_model.pth, or a Lightning .ckpt), each with `reference.safetensors` cases and
 * optionally calibration inputs, holdout cases and edge cases (N = 1, every receiver masked: PyTorch's
 * values, NaN kept). Bundles live in temp dirs removed after the importing test file; this module never
 * judges a bundle.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { findProjectRoot } from '../../../config/environment';

const run = promisify(execFile);
/** Debian's python3-torch (1.13); the fixture scripts need nothing else. */
export const TORCH_PYTHON = '/usr/bin/python3';
/** A current torch 2.x (with onnx and safetensors), for files as a recent training service writes them. */
export const TORCH2_PYTHON = join(homedir(), '.cache', 'onnx-export-pipeline', 'torch2-venv', 'bin', 'python');
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

/** Which torch writes the files: Debian's 1.13 (`/usr/bin/python3`) or the torch 2.x venv. */
export type TorchVersion = 'debian' | 'torch2';

export type WeightsFormat = 'safetensors' | 'pth' | 'ckpt';

export interface WeightsBundleOptions {
  model: HeimdallModel;
  /**
   * `safetensors`: config.json + model.safetensors; `pth`: a bare best_model.pth (the training service's
   * dict: epoch, model_state_dict, Adam's optimizer_state_dict, CosineAnnealingLR's scheduler_state_dict,
   * train_loss, val_loss, val_rmse, config with model_architecture and max_receivers); `ckpt`: a bare
   * Lightning checkpoint (state_dict with the `model.` prefix, hyper_parameters, loops, callbacks, …).
   * The same seed gives the same weights in all three.
   */
  weights: WeightsFormat;
  /** Weights and inputs follow it; the files are byte-identical for one seed and torch. Default 3. */
  seed?: number;
  /** `default`: the three cases (batch 1/3/8, receivers 7/4/10, L 1024/10000); `single`: the first alone. */
  cases?: 'default' | 'single';
  calibrationSamples?: number;
  /** Also write holdout cases (batch 1 × 5 receivers × L 2048, batch 5 × 6 × 1024) beside the bundle. */
  holdout?: boolean;
  /** Also write edge cases beside the bundle: `edge_n1`, `edge_all_masked`, `edge_n1_masked` (NaN kept). */
  edgeCases?: boolean;
  /** R. Default 10. */
  maxReceivers?: number;
  /** heimdall_net only; default true. */
  useCalibration?: boolean;
  /** Also write config.json beside a .pth or .ckpt (a safetensors bundle always has one). */
  withConfig?: boolean;
  /** config.json: the architecture and its fields (default), or the architecture alone. */
  configFields?: 'all' | 'architecture-only';
  /** A .ckpt's hyper_parameters: with `model_architecture` (default), or HeimdallNetLitModule's exactly. */
  hparams?: 'with-architecture' | 'lit-module';
  /** The weights file's name (default model.safetensors, best_model.pth, epoch=2-step=3.ckpt). */
  weightsName?: string;
  /** Default `debian` (torch 1.13). */
  torch?: TorchVersion;
}

/** Per edge case and output: every value NaN, every value finite, or both kinds. */
export type EdgeOutcome = 'nan' | 'finite' | 'mixed';

export interface WeightsBundleSummary {
  model: HeimdallModel;
  weights: WeightsFormat;
  seed: number;
  torch: string;
  max_receivers: number;
  files: string[];
  cases: Record<string, Record<string, number[]>>;
  edge_cases: Record<string, Record<string, EdgeOutcome>> | null;
  weights_seconds: number;
  total_seconds: number;
}

export interface WeightsBundle {
  /** The weights file ([config.json +] model.safetensors, *.pth or *.ckpt), reference.safetensors [, calibration]. */
  dir: string;
  /** The weights file inside `dir`. */
  weightsPath: string;
  holdoutPath?: string;
  edgeCasesPath?: string;
  summary: WeightsBundleSummary;
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

/** Runs the script; rejects with its own message when it refuses. Returns its JSON summary. */
async function runBundleScript<T>(python: string, args: string[], what: string): Promise<T> {
  try {
    const { stdout } = await run(python, args, { timeout: BUNDLE_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as T;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`make_heimdall_bundle.py ${what}: ${stderr || String(error)}`);
  }
}

function scratchRoot(model: HeimdallModel): string {
  const root = mkdtempSync(join(tmpdir(), `onnx-export-${model}-`));
  made.push(root);
  return root;
}

/** Makes a bundle; rejects with the script's own message when it refuses (e.g. iq_resnet18's service export). */
export async function makeGraphBundle(options: GraphBundleOptions): Promise<GraphBundle> {
  const root = scratchRoot(options.model);
  const dir = join(root, 'bundle');
  const holdoutPath = options.holdout ? join(root, 'holdout.safetensors') : undefined;
  const summary = await runBundleScript<GraphBundleSummary>(
    TORCH_PYTHON,
    bundleArgs(options, dir, holdoutPath),
    `${options.model} ${options.export}`,
  );
  return { dir, ...(holdoutPath ? { holdoutPath } : {}), summary };
}

/** Files of a bundle that hold cases, not weights. */
const REFERENCE_FILES = new Set(['reference.safetensors', 'calibration.safetensors']);

/** The script's arguments for a weights bundle in `dir` (exported for tests that run it themselves). */
export function weightsBundleArgs(
  options: WeightsBundleOptions,
  dir: string,
  extra: { holdoutPath?: string; edgeCasesPath?: string } = {},
): string[] {
  const args = [join(FIXTURE_DIR, 'make_heimdall_bundle.py'), '--model', options.model, '--export', 'none'];
  args.push('--weights', options.weights, '--out', dir, '--seed', String(options.seed ?? 3));
  args.push('--cases', options.cases ?? 'default');
  if (options.calibrationSamples) args.push('--calibration-samples', String(options.calibrationSamples));
  if (extra.holdoutPath) args.push('--holdout', extra.holdoutPath);
  if (extra.edgeCasesPath) args.push('--edge-cases', extra.edgeCasesPath);
  if (options.maxReceivers) args.push('--max-receivers', String(options.maxReceivers));
  if (options.useCalibration === false) args.push('--no-calibration');
  if (options.withConfig) args.push('--with-config');
  if (options.configFields) args.push('--config-fields', options.configFields);
  if (options.hparams) args.push('--hparams', options.hparams);
  if (options.weightsName) args.push('--weights-name', options.weightsName);
  return args;
}

/**
 * Makes a weights bundle: the seeded model's weights in the asked form plus its reference cases, and,
 * when asked, holdout and edge-case files beside it. Rejects with the script's own message.
 */
export async function makeWeightsBundle(options: WeightsBundleOptions): Promise<WeightsBundle> {
  const root = scratchRoot(options.model);
  const dir = join(root, 'bundle');
  const extra = {
    ...(options.holdout ? { holdoutPath: join(root, 'holdout.safetensors') } : {}),
    ...(options.edgeCases ? { edgeCasesPath: join(root, 'edge-cases.safetensors') } : {}),
  };
  const python = options.torch === 'torch2' ? TORCH2_PYTHON : TORCH_PYTHON;
  const summary = await runBundleScript<WeightsBundleSummary>(
    python,
    weightsBundleArgs(options, dir, extra),
    `${options.model} --weights ${options.weights}`,
  );
  const weightsFile = summary.files.find(
    (file) => /\.(safetensors|pth|pt|ckpt)$/.test(file) && !REFERENCE_FILES.has(file),
  );
  if (!weightsFile) throw new Error(`make_heimdall_bundle.py wrote no weights file: ${summary.files.join(', ')}`);
  return { dir, weightsPath: join(dir, weightsFile), ...extra, summary };
}
