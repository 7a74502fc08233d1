/**
 * Unit: compareGraphIntermediates on the miniature LocalizationNet (test/unit/onnx-test-models.ts),
 * written to disk and run in onnxruntime slice by slice. A copy with one weight changed differs
 * from the original exactly from the node that reads that weight on; the figures equal those of one
 * session exposing every intermediate at once, however small the chunks; names pair up by module
 * path when the two graphs name their values differently; bad input is refused naming what is wrong.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareGraphIntermediates, type DiagnosisCase, type TensorError } from '../../diagnose/layer-errors';
import { DiagnoseError } from '../../diagnose/diagnose-error';
import type { Model } from '../../onnx/ir';
import { writeModel } from '../../onnx/write-model';
import { allIntermediates, CORRUPTED_WEIGHT, FIRST_AFFECTED_NODE, tinyCase, withWeight } from './diagnose-fixtures';
import { tinyModel } from './onnx-test-models';

const dir = mkdtempSync(join(tmpdir(), 'diagnose-layer-errors-'));
const clean = join(dir, 'clean.onnx');
const corrupted = join(dir, 'corrupted.onnx');
const renamed = join(dir, 'renamed.onnx');
/** The same graph as torch.onnx would name it: `/scope/Op` nodes, `/scope/Op_output_0` values. */
function torchStyleNames(model: Model): Model {
  const g = model.graph;
  const keep = new Set([...g.inputs, ...g.outputs].map((v) => v.name).concat(g.initializers.map((t) => t.name)));
  const rename = (v: string): string => (v === '' || keep.has(v) ? v : `/${v.replace(/_output_/, '_out')}`);
  const nodes = g.nodes.map((n) => ({
    ...n,
    name: `/${n.name}`,
    inputs: n.inputs.map(rename),
    outputs: n.outputs.map(rename),
  }));
  return { ...model, graph: { ...g, nodes } };
}

const cases = [tinyCase('a', 3, 1), tinyCase('b', 1, 2)];

beforeAll(async () => {
  await writeModel(tinyModel(), clean);
  await writeModel(withWeight(tinyModel(), CORRUPTED_WEIGHT, 3), corrupted);
  await writeModel(torchStyleNames(tinyModel()), renamed);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compareGraphIntermediates', () => {
  it('finds no difference between a graph and itself', async () => {
    const { errors, unmatched } = await compareGraphIntermediates(clean, clean, cases);
    expect(errors.length).toBeGreaterThan(10);
    expect(unmatched).toEqual([]);
    for (const e of errors) expect([e.tensor, e.mae, e.maxAbs, e.nonFinite]).toEqual([e.tensor, 0, 0, 0]);
  });

  it('finds the changed weight first at the node that reads it, with node, op, module path and depth', async () => {
    const { errors } = await compareGraphIntermediates(corrupted, clean, cases);
    const first = errors.find((e) => e.maxAbs > 0) as TensorError;
    expect(first).toMatchObject({
      node: FIRST_AFFECTED_NODE,
      op: 'MatMul',
      modulePath: 'backbone.0.1.0.block.3',
      tensor: `${FIRST_AFFECTED_NODE}_output_0`,
    });
    const before = errors.filter((e) => e.depth < first.depth);
    expect(before.map((e) => e.op)).toEqual(['Conv', 'Transpose', 'LayerNormalization']);
    expect(before.every((e) => e.maxAbs === 0)).toBe(true);
    expect(errors.map((e) => e.depth)).toEqual([...errors.map((e) => e.depth)].sort((a, b) => a - b));
  });

  it('gives the figures of one session exposing every intermediate, whatever the chunk size', async () => {
    const want = new Map<string, { sum: number; n: number; max: number; base: number }>();
    for (const c of cases) {
      const a = await allIntermediates(withWeight(tinyModel(), CORRUPTED_WEIGHT, 3), c, dir);
      const b = await allIntermediates(tinyModel(), c, dir);
      for (const [name, { values: av }] of a) {
        const bv = b.get(name)?.values as Float32Array;
        const w = want.get(name) ?? { sum: 0, n: 0, max: 0, base: 0 };
        av.forEach((x, i) => {
          const d = Math.abs(x - (bv[i] as number));
          w.sum += d;
          w.base += Math.abs(bv[i] as number);
          w.max = Math.max(w.max, d);
        });
        w.n += av.length;
        want.set(name, w);
      }
    }
    for (const maxChunkBytes of [1, 200, undefined]) {
      const { errors } = await compareGraphIntermediates(corrupted, clean, cases, { maxChunkBytes });
      expect(errors.map((e) => e.tensor).sort()).toEqual([...want.keys()].sort());
      for (const e of errors) {
        const w = want.get(e.tensor) as { sum: number; n: number; max: number; base: number };
        expect(e.mae).toBeCloseTo(w.sum / w.n, 6);
        expect(e.baselineMeanAbs).toBeCloseTo(w.base / w.n, 6);
        expect(e.maxAbs).toBeCloseTo(w.max, 6);
      }
    }
  });

  it('compares only the tensors asked for', async () => {
    const tensor = `${FIRST_AFFECTED_NODE}_output_0`;
    const { errors } = await compareGraphIntermediates(corrupted, clean, cases, { tensors: [tensor] });
    expect(errors.map((e) => e.tensor)).toEqual([tensor]);
    expect(errors[0]?.mae).toBeGreaterThan(0);
  });

  it('pairs tensors by module path when the two graphs name their values differently', async () => {
    const { errors, unmatched } = await compareGraphIntermediates(corrupted, renamed, cases);
    expect(unmatched).toEqual([]);
    // One tensor per module: the last node's output of each (the graph outputs match by name).
    const modules = new Set(tinyModel().graph.nodes.map((n) => n.name.slice(0, n.name.lastIndexOf('/'))));
    expect(new Set(errors.map((e) => e.modulePath))).toEqual(modules);
    const first = errors.find((e) => e.maxAbs > 0) as TensorError;
    expect(first.modulePath).toBe('backbone.0.1.0.block.3');
  });

  it('refuses a case without one of the graph inputs, naming it and the file', async () => {
    const bad: DiagnosisCase = { name: 'bad', inputs: new Map([['mel', { dims: [1], values: new Float32Array(1) }]]) };
    const err = await compareGraphIntermediates(corrupted, clean, [bad]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiagnoseError);
    expect((err as Error).message).toContain(corrupted);
    expect((err as Error).message).toContain("graph input 'mel_spectrogram'");
  });

  it('refuses a missing graph file, naming it', async () => {
    const missing = join(dir, 'missing.onnx');
    await expect(compareGraphIntermediates(missing, clean, cases)).rejects.toThrow(`${missing}: graph`);
  });

  it('refuses two graphs with no tensor in common, naming both files', async () => {
    const other = join(dir, 'other.onnx');
    const m = tinyModel();
    const produced = new Set(m.graph.nodes.flatMap((n) => n.outputs));
    const rename = (v: string): string => (produced.has(v) ? `other.${v}` : v);
    const nodes = m.graph.nodes.map((n, i) => ({
      ...n,
      name: `other${i}/${n.opType}`,
      inputs: n.inputs.map(rename),
      outputs: n.outputs.map(rename),
    }));
    const outputs = m.graph.outputs.map((v) => ({ ...v, name: rename(v.name) }));
    await writeModel({ ...m, graph: { ...m.graph, nodes, outputs } }, other);
    const err = await compareGraphIntermediates(clean, other, cases).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiagnoseError);
    expect((err as Error).message).toBe(
      `${clean}: intermediate tensors: expected float tensors in common with ${other} (by name or module path), got none in common`,
    );
  });
});
