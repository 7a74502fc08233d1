/**
 * The Heimdall fixtures themselves (scripts/fixtures): the models hold the spec's facts, the docs
 * snippet writes what the project's reference-case writer writes, and the bundles made for
 * bring-your-own tests are deterministic, in the contract's format, and (for the correct exports)
 * agree with PyTorch in onnxruntime on every case, whole, one sample at a time and split 3 + the rest.
 * Servers: none. Needs /usr/bin/python3 with torch and the project venv's onnxruntime; without them the
 * test fails (it is not skipped).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { findProjectRoot } from '../../config/environment';
import { FIXTURE_DIR, TORCH_PYTHON, makeGraphBundle } from './support/heimdall-fixtures';

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
