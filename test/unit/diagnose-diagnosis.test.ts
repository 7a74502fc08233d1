/**
 * Unit: the diagnosis of the miniature LocalizationNet with one weight changed, against a second
 * graph and against PyTorch-style intermediates (module path keys in a safetensors file, here the
 * clean graph's own values): the first divergence is the node reading the weight, the per-layer
 * table has one row per module, the SVG plot marks it and draws the tolerances; a baseline that is
 * missing or ambiguous is refused.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { divergenceFinding, divergenceLine, judge, type Diagnosis } from '../../diagnose/diagnosis';
import { errorPlotSvg } from '../../diagnose/error-plot';
import { runDiagnosis } from '../../diagnose/run-diagnosis';
import type { TensorError } from '../../diagnose/tensor-errors';
import { writeModel } from '../../onnx/write-model';
import { encode, layout } from './checkpoint-safetensors-writer';
import { allIntermediates, CORRUPTED_WEIGHT, FIRST_AFFECTED_NODE, tinyCase, withWeight } from './diagnose-fixtures';
import { tinyModel } from './onnx-test-models';

const dir = mkdtempSync(join(tmpdir(), 'diagnose-diagnosis-'));
const clean = join(dir, 'clean.onnx');
const corrupted = join(dir, 'corrupted.onnx');
const reference = join(dir, 'reference.safetensors');
const MODULE = 'backbone.0.1.0.block.3';

/** The module paths a forward hook would record, each with the clean graph's last value of that module. */
async function writeReferenceWithIntermediates(): Promise<void> {
  const c = tinyCase('', 3, 5);
  const values = await allIntermediates(tinyModel(), c, dir);
  const tensors: Record<string, { dtype: string; shape: readonly number[]; data: Uint8Array }> = {};
  const input = c.inputs.get('mel_spectrogram');
  if (input === undefined) throw new Error('no input');
  const bytes = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  tensors['mel_spectrogram'] = { dtype: 'F32', shape: input.dims, data: bytes(input.values as Float32Array) };
  for (const n of tinyModel().graph.nodes) {
    const path = n.name.slice(0, n.name.lastIndexOf('/'));
    const v = values.get(n.outputs[0] as string);
    if (v !== undefined) tensors[path] = { dtype: 'F32', shape: v.dims, data: bytes(v.values) };
  }
  tensors['not_a_module.1'] = { dtype: 'F32', shape: [1], data: bytes(Float32Array.of(0)) };
  const { header, data } = layout(tensors);
  writeFileSync(reference, encode(header, data));
}

beforeAll(async () => {
  await writeModel(tinyModel(), clean);
  await writeModel(withWeight(tinyModel(), CORRUPTED_WEIGHT, 3), corrupted);
  await writeReferenceWithIntermediates();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tensorError(depth: number, mae: number, maxAbs: number, nonFinite = 0): TensorError {
  return {
    tensor: `t${depth}`,
    node: `m${depth}/Op`,
    op: 'Op',
    modulePath: `m${depth}`,
    depth,
    mae,
    maxAbs,
    baselineMeanAbs: 1,
    nonFinite,
  };
}

describe('judge', () => {
  it('takes the first tensor in depth order whose MAE, max abs error or NaN/Inf count is over the tolerance', () => {
    const t = { mae: 1e-5, maxAbs: 1e-4 };
    const first = (errors: TensorError[]) => judge(errors, t).firstDivergence?.depth;
    expect(first([tensorError(3, 1e-3, 1e-3), tensorError(1, 1e-6, 1e-5), tensorError(2, 1e-6, 2e-4)])).toBe(2);
    expect(first([tensorError(1, 2e-5, 5e-5), tensorError(2, 1, 1)])).toBe(1);
    expect(first([tensorError(1, 0, 0, 3), tensorError(2, 1, 1)])).toBe(1);
    expect(first([tensorError(1, 1e-5, 1e-4)])).toBeUndefined();
  });
});

describe('divergenceFinding', () => {
  const t = { mae: 1e-5, maxAbs: 1e-4 };
  const finding = (e: TensorError) => divergenceFinding({ ...judge([e], t), tolerances: t });
  it('says where, with the op and node, and only what is over the tolerance', () => {
    expect(finding(tensorError(4, 2e-3, 5e-5))).toBe(
      'first divergence at `m4` (Op node `m4/Op`), MAE 2.000e-3 > 0.00001',
    );
    expect(finding(tensorError(4, 1e-6, 3e-4))).toBe(
      'first divergence at `m4` (Op node `m4/Op`), max abs 3.000e-4 > 0.0001',
    );
    expect(finding(tensorError(4, 0, 0, 3))).toBe(
      'first divergence at `m4` (Op node `m4/Op`), 3 NaN/Inf where the baseline is finite',
    );
    expect(finding(tensorError(4, 1e-6, 1e-5))).toBeUndefined();
  });
});

describe('runDiagnosis', () => {
  it('against a second graph: the first divergence is the node reading the changed weight', async () => {
    const d = await runDiagnosis(corrupted, clean, { reference });
    expect(d.firstDivergence).toMatchObject({ node: FIRST_AFFECTED_NODE, op: 'MatMul', modulePath: MODULE });
    expect(d.baselineKind).toBe('graph');
    expect(d.cases).toEqual(['']);
    expect(divergenceLine(d)).toMatch(
      /^first divergence at `backbone\.0\.1\.0\.block\.3`: node backbone\.0\.1\.0\.block\.3\/MatMul \(MatMul\)/,
    );
    // One row per module: its last tensor.
    expect(d.layers.map((l) => l.modulePath)).toEqual([...new Set(d.tensors.map((t) => t.modulePath))]);
  });

  it('without a reference, a synthetic case feeds both graphs', async () => {
    const d = await runDiagnosis(corrupted, clean);
    expect(d.cases).toEqual(['synthetic']);
    expect(d.firstDivergence?.node).toBe(FIRST_AFFECTED_NODE);
  });

  it("against PyTorch's intermediates by module path: the same layer, and keys of no module are unmatched", async () => {
    const d = await runDiagnosis(corrupted, undefined, { reference });
    expect(d.baselineKind).toBe('reference intermediates');
    expect(d.firstDivergence?.modulePath).toBe(MODULE);
    expect(d.unmatched).toEqual(['not_a_module.1']);
    const same = await runDiagnosis(clean, undefined, { reference });
    expect(same.firstDivergence).toBeUndefined();
    expect(same.tensors.length).toBeGreaterThan(5);
  });

  it('refuses no baseline, two baselines, and intermediates without the inputs they were computed on', async () => {
    await expect(runDiagnosis(corrupted, undefined)).rejects.toThrow(
      `${corrupted}: baseline: expected a second graph, or reference intermediates (--reference or --intermediates), got none`,
    );
    await expect(runDiagnosis(corrupted, clean, { intermediates: reference })).rejects.toThrow(
      /baseline: expected one/,
    );
    await expect(runDiagnosis(corrupted, undefined, { intermediates: reference })).rejects.toThrow(
      `${reference}: inputs: expected the reference cases the intermediates were computed on`,
    );
  });
});

describe('errorPlotSvg', () => {
  it('draws both series, the two tolerances and the first divergence, named', async () => {
    const d: Diagnosis = await runDiagnosis(corrupted, clean, { reference });
    const svg = errorPlotSvg(d);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).toContain('MAE tolerance 0.00001');
    expect(svg).toContain('max abs tolerance 0.0001');
    expect(svg).toContain(`first divergence: ${MODULE} (MatMul, depth ${d.firstDivergence?.depth})`);
    expect(errorPlotSvg(d)).toBe(svg);
  });
});
