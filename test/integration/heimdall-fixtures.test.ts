/**
 * The Heimdall fixtures themselves (scripts/fixtures): the models hold the spec's facts, the docs
 * snippet writes what the project's reference-case writer writes, and the bundles made for
 * bring-your-own tests are deterministic, in the contract's format, and (for the correct exports)
 * agree with PyTorch in onnxruntime on every case, whole, one sample at a time and split 3 + the rest.
 * Weights bundles (config.json + model.safetensors, a bare best_model.pth, a bare Lightning .ckpt) hold
 * the same weights in every form and from both torch versions, and the issue's reference and edge cases.
 * Servers: none. Needs /usr/bin/python3 with torch, the torch 2.x venv and the project venv's
 * onnxruntime; without them the test fails (it is not skipped).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { findProjectRoot } from '../../config/environment';
import {
  FIXTURE_DIR,
  TORCH2_PYTHON,
  TORCH_PYTHON,
  makeGraphBundle,
  makeWeightsBundle,
  type WeightsBundle,
} from './support/heimdall-fixtures';

const run = promisify(execFile);
/** float32 rounding through these small graphs measured ≤ 4e-6 (IQResNet18, outputs ~2); 1e-5 is issue 21's bound. */
const ONNX_VS_TORCH_MAX_ABS = 1e-5;

const scratch = mkdtempSync(join(tmpdir(), 'onnx-export-heimdall-fixtures-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface SafetensorsEntry {
  dtype: string;
  shape: number[];
}

function header(path: string): Record<string, SafetensorsEntry> {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  const parsed = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, SafetensorsEntry>;
  delete parsed.__metadata__;
  return parsed;
}

/** One tensor's raw bytes from a safetensors file. */
function tensorBytes(path: string, key: string): Buffer {
  const bytes = readFileSync(path);
  const length = Number(bytes.readBigUInt64LE(0));
  const entry = (
    JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, { data_offsets: number[] }>
  )[key];
  if (!entry) throw new Error(`${path}: no tensor ${key}`);
  return bytes.subarray(8 + length + (entry.data_offsets[0] ?? 0), 8 + length + (entry.data_offsets[1] ?? 0));
}

function int64Rows(path: string, key: string, columns: number): number[][] {
  const data = tensorBytes(path, key);
  const values = Array.from({ length: data.length / 8 }, (_, i) => Number(data.readBigInt64LE(i * 8)));
  return Array.from({ length: values.length / columns }, (_, row) => values.slice(row * columns, (row + 1) * columns));
}

interface WeightsDescription {
  torch: string;
  format: string;
  top_keys?: string[];
  archive_folders?: string[];
  tensors: Record<string, { dtype: string; shape: number[]; sha256: string }>;
  settings: Record<string, unknown>;
}

/** weights_files.py --describe: the file as that torch reads it back. */
async function describeWeights(python: string, path: string): Promise<WeightsDescription> {
  const { stdout } = await run(python, [join(FIXTURE_DIR, 'weights_files.py'), '--describe', path], {
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as WeightsDescription;
}

/** What each checkpoint form holds at its top level, in order, and its zip archive's folder. */
const CHECKPOINT_FORMS = {
  // The training service's dict (spec section 4), saved to its path.
  pth: {
    topKeys: [
      'epoch',
      'model_state_dict',
      'optimizer_state_dict',
      'scheduler_state_dict',
      'train_loss',
      'val_loss',
      'val_rmse',
      'config',
    ],
    archiveFolder: 'best_model',
  },
  // Lightning 2.x's trainer dict, saved through a buffer as Lightning does.
  ckpt: {
    topKeys: [
      'epoch',
      'global_step',
      'pytorch-lightning_version',
      'state_dict',
      'loops',
      'callbacks',
      'optimizer_states',
      'lr_schedulers',
      'hparams_name',
      'hyper_parameters',
    ],
    archiveFolder: 'archive',
  },
} as const;

interface RunResult {
  error?: string;
  [output: string]: { max_abs: number | null; nonfinite: number } | string | undefined;
}
interface MeasureReport {
  inputs: Record<string, (number | string)[]>;
  cases: Record<string, Record<string, RunResult>>;
}

function venvPython(): string {
  const out = execFileSync('bash', [join(findProjectRoot(), 'scripts/ensure-python-venv.sh')], { encoding: 'utf8' });
  return join(out.trim().split('\n').pop() ?? '', 'bin/python');
}

async function measure(modelPath: string, referencePath: string): Promise<MeasureReport> {
  const { stdout } = await run(venvPython(), [join(FIXTURE_DIR, 'measure_bundle.py'), modelPath, referencePath]);
  return JSON.parse(stdout) as MeasureReport;
}

/** Every run of every case: no error, no NaN/Inf, max abs error within the bound; returns the worst error. */
function expectAllRunsAgree(report: MeasureReport): number {
  let worst = 0;
  for (const [caseName, runs] of Object.entries(report.cases)) {
    for (const [runName, result] of Object.entries(runs)) {
      expect(result.error, `${caseName} ${runName}`).toBeUndefined();
      for (const [output, value] of Object.entries(result)) {
        const measured = value as { max_abs: number | null; nonfinite: number };
        expect(measured.nonfinite, `${caseName} ${runName} ${output}`).toBe(0);
        expect(measured.max_abs, `${caseName} ${runName} ${output}`).toBeLessThanOrEqual(ONNX_VS_TORCH_MAX_ABS);
        worst = Math.max(worst, measured.max_abs ?? Infinity);
      }
    }
  }
  return worst;
}

describe('Heimdall fixtures (scripts/fixtures, Debian torch 1.13)', () => {
  it("heimdall_models.py --self-check holds the spec's parameter and key counts and its masking facts", async () => {
    const { stdout } = await run(TORCH_PYTHON, [join(FIXTURE_DIR, 'heimdall_models.py'), '--self-check']);
    const facts = JSON.parse(stdout) as Record<string, Record<string, number | boolean>> & { ok: boolean };
    expect(facts.ok).toBe(true);
    expect(facts.heimdall_net).toMatchObject({
      parameters_r10_calibration: 2_001_417,
      parameters_r7_calibration: 1_802_313,
      parameters_r10_no_calibration: 1_338_377,
      keys_r10: 319,
      batchnorms: 31,
      padded_slot_change: 0,
      mask_none_vs_all_true: 0,
      all_padding_finite: true,
    });
    expect(facts.triangulation_model).toMatchObject({ keys: 14, parameters: 15_267, n1_nan: true });
    expect(facts.iq_resnet18).toMatchObject({ keys: 79, parameters: 874_692, n1_and_all_masked_nan: true });
  });

  it('the docs snippet (reference_snippet.py) writes byte for byte what reference_cases.py writes', async () => {
    const fromSnippet = join(scratch, 'snippet.safetensors');
    const fromWriter = join(scratch, 'writer.safetensors');
    await run(TORCH_PYTHON, [join(FIXTURE_DIR, 'reference_snippet.py'), '--demo', fromSnippet]);
    await run(TORCH_PYTHON, [join(FIXTURE_DIR, 'reference_cases.py'), '--demo', fromWriter]);
    expect(readFileSync(fromSnippet).equals(readFileSync(fromWriter))).toBe(true);
    const entries = header(fromSnippet);
    expect(Object.keys(entries).sort()).toEqual([
      'r4/log_variance',
      'r4/position',
      'r4/receiver_features',
      'r4/signal_mask',
      'r7/log_variance',
      'r7/position',
      'r7/receiver_features',
      'r7/signal_mask',
    ]);
    expect(entries['r4/signal_mask']).toMatchObject({ dtype: 'BOOL', shape: [2, 4] });
    expect(entries['r7/receiver_features']).toMatchObject({ dtype: 'F32', shape: [3, 7, 6] });
    expect(entries['r7/log_variance']).toMatchObject({ dtype: 'F32', shape: [3, 1] });
  });

  it('the snippet between its markers is at most 25 lines, as the docs promise', () => {
    const text = readFileSync(join(FIXTURE_DIR, 'reference_snippet.py'), 'utf8');
    const snippet = text.split('# --- snippet start\n')[1]?.split('# --- snippet end')[0] ?? '';
    expect(snippet.trim().split('\n').length).toBeLessThanOrEqual(25);
  });

  it('a dynamic TriangulationModel bundle is byte-deterministic, symbolic in batch and receivers, and matches PyTorch in onnxruntime on every case', async () => {
    const options = { model: 'triangulation_model', export: 'dynamic', calibrationSamples: 4, holdout: true } as const;
    const [first, second] = [await makeGraphBundle(options), await makeGraphBundle(options)];
    expect(readdirSync(first.dir).sort()).toEqual(['calibration.safetensors', 'model.onnx', 'reference.safetensors']);
    for (const file of readdirSync(first.dir)) {
      expect(readFileSync(join(first.dir, file)).equals(readFileSync(join(second.dir, file))), file).toBe(true);
    }
    expect(Object.keys(first.summary.cases)).toEqual(['case1_b1_r7', 'case2_b3_r4', 'case3_b8_r10']);
    const calibration = header(join(first.dir, 'calibration.safetensors'));
    expect(calibration['case2_b3_r4/receiver_features']).toMatchObject({ dtype: 'F32', shape: [4, 4, 6] });
    expect(calibration['case2_b3_r4/position']).toBeUndefined();

    const report = await measure(join(first.dir, 'model.onnx'), join(first.dir, 'reference.safetensors'));
    expect(report.inputs.receiver_features).toEqual(['batch_size', 'receivers', 6]);
    expectAllRunsAgree(report);
    expect(existsSync(first.holdoutPath ?? '')).toBe(true);
    const holdout = await measure(join(first.dir, 'model.onnx'), first.holdoutPath ?? '');
    expect(Object.keys(holdout.cases)).toEqual(['holdout_b1', 'holdout_b5']);
    expectAllRunsAgree(holdout);
  });

  it('a dynamic IQResNet18 bundle is symbolic in batch, receivers and seq_len and matches PyTorch in onnxruntime on every case', async () => {
    const bundle = await makeGraphBundle({ model: 'iq_resnet18', export: 'dynamic' });
    expect(bundle.summary.uncertainties_on_clamp_bounds).toEqual([]);
    const report = await measure(join(bundle.dir, 'model.onnx'), join(bundle.dir, 'reference.safetensors'));
    expect(report.inputs.iq_samples).toEqual(['batch_size', 'receivers', 2, 'seq_len']);
    expect(Object.keys(report.cases)).toEqual(['case1_b1_r7_l1024', 'case2_b3_r4_l2048', 'case3_b8_r10_l1024']);
    expectAllRunsAgree(report);
  });

  it("iq_resnet18 exported the training service's way is refused, as the service's own export fails", async () => {
    await expect(makeGraphBundle({ model: 'iq_resnet18', export: 'service' })).rejects.toThrow(
      /fails as the training service's export does.*not enough values to unpack/,
    );
  });
});

describe('Heimdall weights bundles (make_heimdall_bundle.py --export none)', () => {
  it('one seed gives the same weights as config.json + model.safetensors, a bare best_model.pth and a bare Lightning .ckpt, written and read back by torch 1.13 and torch 2.x', async () => {
    const model = 'triangulation_model';
    const bundles: Record<string, WeightsBundle> = {
      safetensors: await makeWeightsBundle({ model, weights: 'safetensors' }),
      pth: await makeWeightsBundle({ model, weights: 'pth' }),
      ckpt: await makeWeightsBundle({ model, weights: 'ckpt' }),
      pth2: await makeWeightsBundle({ model, weights: 'pth', torch: 'torch2' }),
      ckpt2: await makeWeightsBundle({ model, weights: 'ckpt', torch: 'torch2' }),
    };
    expect(readdirSync(bundles.safetensors!.dir).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'reference.safetensors',
    ]);
    expect(JSON.parse(readFileSync(join(bundles.safetensors!.dir, 'config.json'), 'utf8'))).toEqual({
      architecture: model,
    });
    expect(readdirSync(bundles.pth!.dir).sort()).toEqual(['best_model.pth', 'reference.safetensors']);
    expect(readdirSync(bundles.ckpt!.dir).sort()).toEqual(['epoch=2-step=3.ckpt', 'reference.safetensors']);
    expect(bundles.pth2!.summary.torch).toMatch(/^2\./);

    const reference = await describeWeights(TORCH_PYTHON, bundles.safetensors!.weightsPath);
    expect(Object.keys(reference.tensors)).toHaveLength(14);
    for (const [name, bundle] of Object.entries(bundles).filter(([name]) => name !== 'safetensors')) {
      // Each checkpoint read by the other torch than the one that wrote it, and by its own.
      for (const python of [TORCH_PYTHON, TORCH2_PYTHON]) {
        const read = await describeWeights(python, bundle.weightsPath);
        expect(read.tensors, `${name} read by ${read.torch}`).toEqual(reference.tensors);
        const form = CHECKPOINT_FORMS[name.startsWith('pth') ? 'pth' : 'ckpt'];
        expect(read.top_keys).toEqual(form.topKeys);
        expect(read.archive_folders).toEqual([form.archiveFolder]);
        expect(read.settings).toMatchObject({ model_architecture: model, max_receivers: 10 });
      }
    }
    // The reference cases do not depend on the form the weights take.
    const referenceFile = (bundle: WeightsBundle) => readFileSync(join(bundle.dir, 'reference.safetensors'));
    expect(referenceFile(bundles.pth!).equals(referenceFile(bundles.safetensors!))).toBe(true);
    expect(referenceFile(bundles.ckpt!).equals(referenceFile(bundles.safetensors!))).toBe(true);
  });

  it("a HeimdallNet .pth bundle is byte-deterministic and holds the issue's cases: batches 1, 3 and 8, receivers 7, 4 and 10, IQ lengths 1024 and 10000, permuted and repeated ids, partial masks", async () => {
    const options = { model: 'heimdall_net', weights: 'pth', holdout: true } as const;
    const [first, second] = [await makeWeightsBundle(options), await makeWeightsBundle(options)];
    for (const file of readdirSync(first.dir)) {
      expect(readFileSync(join(first.dir, file)).equals(readFileSync(join(second.dir, file))), file).toBe(true);
    }
    const cases = first.summary.cases;
    expect(Object.keys(cases)).toEqual([
      'case1_b1_r7_l1024_arange',
      'case2_b3_r4_l10000_permuted_masked',
      'case3_b8_r10_l1024_repeated_masked',
    ]);
    expect(cases.case2_b3_r4_l10000_permuted_masked?.iq_data).toEqual([3, 4, 2, 10000]);
    expect(cases.case3_b8_r10_l1024_repeated_masked?.position).toEqual([8, 2]);
    const reference = join(first.dir, 'reference.safetensors');
    const entries = header(reference);
    expect(entries['case1_b1_r7_l1024_arange/receiver_ids']).toMatchObject({ dtype: 'I64', shape: [1, 7] });
    expect(entries['case1_b1_r7_l1024_arange/mask']).toMatchObject({ dtype: 'BOOL', shape: [1, 7] });

    for (const row of int64Rows(reference, 'case2_b3_r4_l10000_permuted_masked/receiver_ids', 4)) {
      expect(new Set(row).size, `permuted ids ${row.join(',')}`).toBe(4);
    }
    for (const row of int64Rows(reference, 'case3_b8_r10_l1024_repeated_masked/receiver_ids', 10)) {
      expect(new Set(row).size, `repeated ids ${row.join(',')}`).toBeLessThan(10);
    }
    const mask = tensorBytes(reference, 'case3_b8_r10_l1024_repeated_masked/mask');
    const activeRows = Array.from(
      { length: 8 },
      (_, b) => [...mask.subarray(b * 10, b * 10 + 10)].filter(Boolean).length,
    );
    expect(activeRows[0]).toBe(10);
    expect(activeRows.some((active) => active < 10)).toBe(true);
    expect(Math.min(...activeRows)).toBeGreaterThanOrEqual(2);

    expect(
      Object.keys(header(first.holdoutPath ?? ''))
        .filter((key) => key.endsWith('/position'))
        .sort(),
    ).toEqual(['holdout_b1_r5_l2048_permuted/position', 'holdout_b5_r6_l1024_repeated_masked/position']);
  });

  it("edge cases keep PyTorch's values, NaN included: HeimdallNet finite at N = 1 and all masked, TriangulationModel NaN at N = 1 and finite all masked, IQResNet18 NaN at both", async () => {
    const outcomes = async (model: 'heimdall_net' | 'triangulation_model' | 'iq_resnet18') => {
      const bundle = await makeWeightsBundle({ model, weights: 'safetensors', edgeCases: true, cases: 'single' });
      expect(existsSync(bundle.edgeCasesPath ?? '')).toBe(true);
      return bundle.summary.edge_cases;
    };
    const finite = { position: 'finite', uncertainty: 'finite' };
    expect(await outcomes('heimdall_net')).toEqual({
      edge_n1: finite,
      edge_all_masked: finite,
      edge_n1_masked: finite,
    });
    const nan = { position: 'nan', log_variance: 'nan' };
    expect(await outcomes('triangulation_model')).toEqual({
      edge_n1: nan,
      edge_all_masked: { position: 'finite', log_variance: 'finite' },
      edge_n1_masked: nan,
    });
    const nanIq = { positions: 'nan', uncertainties: 'nan' };
    expect(await outcomes('iq_resnet18')).toEqual({ edge_n1: nanIq, edge_all_masked: nanIq, edge_n1_masked: nanIq });
  });
});
