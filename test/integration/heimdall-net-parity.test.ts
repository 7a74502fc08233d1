/**
 * HeimdallNet emitted by our heimdall_net plug-in against PyTorch eager: weights bundles made by
 * scripts/fixtures/make_heimdall_bundle.py (`--export none --weights safetensors`, the spec's model
 * with seeded weights, Debian's torch 1.13) are emitted at opsets 14, 17 and 20 and run in
 * onnxruntime-node through the parity gate (runParity) at the tolerances, 1e-5 MAE and 1e-4 max
 * abs, on every case and batch split: the reference cases (batches 1, 3, 8; receivers 7, 4,
 * 10; arange, permuted and repeated ids; partial masks; IQ lengths 1024 and 10000), holdout cases the
 * reference never held, and the edge cases (N = 1, every receiver masked, both), where PyTorch is
 * finite and so must we be. Also R = 7 without calibration. The same gate refuses HeimdallNet as
 * the training service exports it with torch (`--export service`: NaN for every input) and with its
 * atan2 repaired (batch and ids baked in).
 * Servers: none (no Temporal, MinIO or MLflow). Needs /usr/bin/python3 with torch; without it the
 * test fails (it is not skipped).
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TOLERANCES } from '../../common/export-contract';
import { emitBundle } from '../../models';
import { runParity, type ParityReport } from '../../parity';
import { makeGraphBundle, makeWeightsBundle, type WeightsBundle } from './support/heimdall-fixtures';

/** The gate for emitted graphs (also the pipeline's default parity tolerances). */
const TOLERANCES = { mae: 1e-5, maxAbs: 1e-4 } as const;
const OPSETS = [14, 17, 20] as const;

const measured: string[] = [];
function record(what: string, report: ParityReport): void {
  const worst = Object.entries(report.outputs)
    .map(([name, e]) => `${name} MAE ${e.mae.toExponential(2)} max ${e.maxAbs.toExponential(2)}`)
    .join('; ');
  measured.push(`  ${what.padEnd(40)} ${report.samples} samples: ${worst}`);
}

async function parity(bundle: WeightsBundle, reference: string, opset = 17): Promise<ParityReport> {
  const out = join(bundle.dir, `model-${opset}.onnx`);
  await emitBundle(bundle.dir, out, { opset });
  return runParity(out, reference, TOLERANCES);
}

let full: WeightsBundle;
let small: WeightsBundle;

beforeAll(async () => {
  // One at a time: torch already uses both cores.
  full = await makeWeightsBundle({
    model: 'heimdall_net',
    weights: 'safetensors',
    holdout: true,
    edgeCases: true,
  });
  small = await makeWeightsBundle({
    model: 'heimdall_net',
    weights: 'safetensors',
    maxReceivers: 7,
    useCalibration: false,
    seed: 5,
  });
});

describe('heimdall_net (R = 10, calibration on) against PyTorch eager', () => {
  it('the bundle holds the issue’s cases', () => {
    expect(Object.keys(full.summary.cases)).toEqual([
      'case1_b1_r7_l1024_arange',
      'case2_b3_r4_l10000_permuted_masked',
      'case3_b8_r10_l1024_repeated_masked',
    ]);
  });

  it.each(OPSETS)('opset %i: every reference case and batch split within 1e-5 MAE and 1e-4 max', async (opset) => {
    const report = await parity(full, join(full.dir, 'reference.safetensors'), opset);
    record(`R=10 reference, opset ${opset}`, report);
    expect(report.failures).toEqual([]);
    expect(report.passed).toBe(true);
    expect((report.cases ?? []).map((c) => c.splits.length)).toEqual([1, 3, 3]);
  });

  it('cases the reference never held (holdout) pass the same gate', async () => {
    const report = await parity(full, full.holdoutPath as string);
    record('R=10 holdout', report);
    expect(report.failures).toEqual([]);
  });

  it('N = 1, every receiver masked, and both: finite as in PyTorch, and the same values', async () => {
    const edges = full.summary.edge_cases ?? {};
    expect(Object.keys(edges)).toEqual(['edge_n1', 'edge_all_masked', 'edge_n1_masked']);
    for (const outcome of Object.values(edges)) expect(outcome).toEqual({ position: 'finite', uncertainty: 'finite' });
    const report = await parity(full, full.edgeCasesPath as string);
    record('R=10 edge cases', report);
    expect(report.failures).toEqual([]);
    for (const e of Object.values(report.outputs)) expect(e.nonFiniteOutputs).toBe(0);
  });
});

describe('heimdall_net (R = 7, no calibration) against PyTorch eager', () => {
  it('every reference case and batch split within 1e-5 MAE and 1e-4 max', async () => {
    const report = await parity(small, join(small.dir, 'reference.safetensors'));
    record('R=7 no calibration', report);
    expect(report.failures).toEqual([]);
  });
});

describe('the same gate on HeimdallNet exported by torch as the training service exports it', () => {
  it('refuses the service’s export: NaN for every input', async () => {
    const bundle = await makeGraphBundle({ model: 'heimdall_net', export: 'service' });
    const report = await runParity(join(bundle.dir, 'model.onnx'), join(bundle.dir, 'reference.safetensors'), {
      ...DEFAULT_TOLERANCES,
    });
    expect(report.passed).toBe(false);
    expect(report.outputs.position?.nonFiniteOutputs).toBe(report.outputs.position?.count);
    expect(report.failures.join('\n')).toMatch(/position: \d+ NaN\/Inf values in the model's output/);
  });

  it('refuses it with atan2 repaired: other batches and ids than the dummy’s are wrong', async () => {
    const bundle = await makeGraphBundle({ model: 'heimdall_net', export: 'service-atan2-repaired' });
    const report = await runParity(join(bundle.dir, 'model.onnx'), join(bundle.dir, 'reference.safetensors'), {
      ...DEFAULT_TOLERANCES,
    });
    expect(report.passed).toBe(false);
    const failed = (report.cases ?? []).filter((c) => !c.passed).map((c) => c.name);
    // The dummy's own configuration (batch 1, ids 0..R−1) is the one case a baked graph gets right.
    expect(failed).toEqual(['case2_b3_arange', 'case3_b3_permuted_masked', 'case4_b8_repeated_masked']);
  });
});

describe('measured', () => {
  it('prints the parity figures', () => {
    process.stdout.write(`\nheimdall_net parity against PyTorch eager:\n${measured.join('\n')}\n`);
    expect(measured.length).toBeGreaterThan(0);
  });
});
