/**
 * The two attention plug-ins, triangulation_model and iq_resnet18 (models/triangulation_model,
 * models/iq_resnet18, models/attention.ts, models/receiver-set.ts), on weights made in TypeScript from
 * their own key → shape tables (attention-fixtures.ts): their config schemas, their weight checks'
 * refusals (every problem in one error), their signatures, and their graphs run in onnxruntime-node
 * for any batch, receiver count and IQ length, at every opset the emitter writes, with PyTorch's edge
 * cases (N = 1, every receiver masked). Parity with PyTorch itself is test/integration/attention-parity.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../checkpoint';
import { configureArchitecture, emitBundle, loadBundle, ModelError } from '../../models';
import { graphSignature } from '../../onnx/graph-signature';
import { tempDir } from './checkpoint-safetensors-writer';
import type { Entry } from './models-fixtures';
import {
  attentionBundle,
  attentionInputs,
  SHAPES,
  type AttentionArchitecture,
  type MaskRule,
} from './attention-fixtures';
import { maxAbsDiff, runGraph, tableBundle, tableEntries } from './table-weights';

interface Subject {
  readonly name: AttentionArchitecture;
  /** Spec 2.2 / 3.2: parameters (+ BatchNorm running stats), num_batches_tracked excluded. */
  readonly values: number;
  readonly outputs: readonly [string, string];
  readonly outputWidths: readonly [number, number];
  /** Spec 2.3 / 3.3: every receiver masked gives finite (huge) outputs, or NaN. */
  readonly allMaskedIsNaN: boolean;
}

const SUBJECTS: readonly Subject[] = [
  {
    name: 'triangulation_model',
    values: 15_267,
    outputs: ['position', 'log_variance'],
    outputWidths: [2, 1],
    allMaskedIsNaN: false,
  },
  {
    name: 'iq_resnet18',
    values: 874_692 + 2_432,
    outputs: ['positions', 'uncertainties'],
    outputWidths: [2, 2],
    allMaskedIsNaN: true,
  },
];
const [TRIANGULATION, IQ_RESNET18] = SUBJECTS as [Subject, Subject];

const emitted = new Map<string, Promise<string>>();
/** The subject's graph from seeded table weights at `opset` (emitted once per test file). */
function graphOf(s: Subject, opset = 17): Promise<string> {
  const key = `${s.name}@${opset}`;
  let path = emitted.get(key);
  if (path === undefined) {
    path = emitBundle(attentionBundle(s.name), join(tempDir(), `${s.name}-${opset}.onnx`), { opset }).then(
      (r) => r.path,
    );
    emitted.set(key, path);
  }
  return path;
}

const inputsOf = (s: Subject, batch: number, receivers: number, masked: MaskRule, seed: number) =>
  attentionInputs(s.name, batch, receivers, masked, seed);
const none: MaskRule = () => false;
/** Receiver i of sample b is masked when i ≥ 2 and (b + i) is odd: partial masks, two active receivers at least. */
const partial: MaskRule = (b, i) => i >= 2 && (b + i) % 2 === 1;

describe.each(SUBJECTS)('$name', (s) => {
  it('its weight table has the spec’s values, and TypeScript-made weights of that table pass the check', async () => {
    const total = [...SHAPES[s.name]().values()].reduce((sum, shape) => sum + shape.reduce((a, b) => a * b, 1), 0);
    expect(total).toBe(s.values);
    const bundle = await loadBundle(attentionBundle(s.name));
    expect(() => bundle.architecture.checkWeights(bundle.weights)).not.toThrow();
  });

  it('refuses weights with a missing, an unexpected, a wrong-shape and a wrong-dtype tensor, all in one error', async () => {
    const entries = tableEntries(SHAPES[s.name]());
    const [first, second, third] = [...entries.keys()] as [string, string, string];
    entries.delete(first);
    const wrong = entries.get(second) as Entry;
    entries.set(second, { ...wrong, shape: [...wrong.shape.slice(0, -1), (wrong.shape.at(-1) as number) + 1] });
    const half = entries.get(third) as Entry;
    entries.set(third, { dtype: 'F16', shape: half.shape });
    entries.set('extra.weight', { dtype: 'F32', shape: [2] });
    const dir = tableBundle({ architecture: s.name }, entries);
    const bundle = await loadBundle(dir);
    let err: unknown;
    try {
      bundle.architecture.checkWeights(bundle.weights);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelError);
    const refusal = err as ModelError;
    expect(refusal.file).toBe(join(dir, 'model.safetensors'));
    expect(refusal.missing).toEqual([first]);
    expect(refusal.unexpected).toEqual(['extra.weight']);
    expect(refusal.mismatches.map((m) => m.tensor)).toEqual([second, third]);
    expect(refusal.message).toContain(`${second}: expected [${SHAPES[s.name]().get(second)?.join(', ')}], got [`);
    expect(refusal.message).toContain(`${third}: expected F32 [`);
  });

  it('its signature is the built graph’s: symbolic batch and receivers, a bool mask, the service’s names', async () => {
    const bundle = await loadBundle(attentionBundle(s.name));
    const built = bundle.architecture.checkWeights(bundle.weights).build(bundle.weightsSha256, {});
    const signature = bundle.architecture.signature();
    expect(graphSignature(built.model)).toEqual(signature);
    expect(signature.inputs[1]).toMatchObject({ dtype: 'bool', shape: [-1, -1] });
    expect(signature.outputs.map((o) => [o.name, o.shape])).toEqual([
      [s.outputs[0], [-1, s.outputWidths[0]]],
      [s.outputs[1], [-1, s.outputWidths[1]]],
    ]);
    expect(signature.dims?.[signature.inputs[1]!.name]).toEqual(['batch_size', 'receivers']);
    const cases = bundle.architecture.referenceCases();
    expect(cases.batchDim).toBe('batch_size');
    expect(cases.caseDims).toContain('receivers');
  });

  it('one graph runs any batch and receiver count; a batch gives what its samples give one by one', async () => {
    const path = await graphOf(s);
    for (const [batch, receivers] of [
      [1, 7],
      [3, 4],
      [8, 10],
    ] as const) {
      const whole = await runGraph(path, inputsOf(s, batch, receivers, partial, batch));
      s.outputs.forEach((name, k) => {
        expect(whole[name]!.dims).toEqual([batch, s.outputWidths[k]]);
        expect(whole[name]!.data.every(Number.isFinite)).toBe(true);
      });
      const feeds = inputsOf(s, batch, receivers, partial, batch);
      for (let b = 0; b < batch; b++) {
        const one = Object.fromEntries(
          Object.entries(feeds).map(([k, t]) => {
            const per = t.size / batch;
            const data = (t.data as Float32Array | Uint8Array).slice(b * per, (b + 1) * per);
            return [k, new ort.Tensor(t.type as 'float32' | 'bool', data, [1, ...t.dims.slice(1)])];
          }),
        );
        const alone = await runGraph(path, one);
        for (const [k, name] of s.outputs.entries()) {
          const width = s.outputWidths[k] as number;
          const row = whole[name]!.data.slice(b * width, (b + 1) * width);
          expect(maxAbsDiff(alone[name]!.data, row)).toBeLessThan(1e-6);
        }
      }
    }
  });

  it('every opset the emitter writes gives the same outputs (14 decomposes LayerNorm, 18 takes reduce axes as inputs)', async () => {
    const feeds = inputsOf(s, 3, 5, partial, 11);
    const at17 = await runGraph(await graphOf(s, 17), feeds);
    for (const opset of [14, 18, 21]) {
      const other = await runGraph(await graphOf(s, opset), feeds);
      for (const name of s.outputs) expect(maxAbsDiff(other[name]!.data, at17[name]!.data)).toBeLessThan(1e-5);
    }
  });

  it('N = 1 gives NaN outputs, as PyTorch’s unbiased std of one value', async () => {
    const out = await runGraph(await graphOf(s), inputsOf(s, 2, 1, none, 3));
    for (const name of s.outputs) expect(Array.from(out[name]!.data).every(Number.isNaN)).toBe(true);
  });

  it('a sample whose receivers are all masked behaves as in PyTorch; the other samples are unaffected', async () => {
    const path = await graphOf(s);
    const allFirst = (b: number, i: number) => b === 0 || partial(b, i);
    const out = await runGraph(path, inputsOf(s, 3, 5, allFirst, 5));
    const ref = await runGraph(path, inputsOf(s, 3, 5, partial, 5));
    for (const [k, name] of s.outputs.entries()) {
      const width = s.outputWidths[k] as number;
      const first = Array.from(out[name]!.data.slice(0, width));
      if (s.allMaskedIsNaN) expect(first.every(Number.isNaN)).toBe(true);
      else expect(first.every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(out[name]!.data.slice(width), ref[name]!.data.slice(width))).toBe(0);
    }
  });
});

describe('triangulation_model specifics', () => {
  it('takes no config fields: max_receivers is refused, naming the fields it knows', () => {
    expect(configureArchitecture({ architecture: 'triangulation_model', run_id: 'r1' }, 'c.json').config).toEqual({
      architecture: 'triangulation_model',
      runId: 'r1',
    });
    expect(() => configureArchitecture({ architecture: 'triangulation_model', max_receivers: 7 }, 'c.json')).toThrow(
      'c.json: max_receivers: expected no unknown fields (known: architecture, run_id), got "max_receivers"',
    );
  });

  it('every receiver masked: agg is [0, −1e9, 0, 1/7], so the outputs are finite and huge', async () => {
    const out = await runGraph(
      await graphOf(TRIANGULATION),
      inputsOf(TRIANGULATION, 2, 6, () => true, 9),
    );
    const values = [...out.position!.data, ...out.log_variance!.data];
    expect(values.every(Number.isFinite)).toBe(true);
    expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(1e5);
    // The features play no part once every receiver is masked: both samples give the same outputs.
    expect(out.position!.data.slice(0, 2)).toEqual(out.position!.data.slice(2, 4));
  });

  it('weights stay file ranges but the attention’s in_proj, whose Q rows are scaled by 1/√d lazily', async () => {
    const bundle = await loadBundle(attentionBundle('triangulation_model'));
    const { model } = bundle.architecture.checkWeights(bundle.weights).build(bundle.weightsSha256, {});
    const kinds = Object.fromEntries(model.graph.initializers.map((t) => [t.name, t.data.kind]));
    expect(kinds['encoder.encoder.0.weight']).toBe('file');
    expect(kinds['aggregator.attention.out_proj.weight']).toBe('file');
    expect(kinds['aggregator.attention.in_proj_weight*q_scale']).toBe('lazy');
    expect(kinds['head.head.3.bias']).toBe('file');
    expect(model.graph.nodes.map((n) => n.opType)).not.toContain('Dropout');
  });
});

describe('iq_resnet18 specifics', () => {
  it('records max_receivers and iq_sequence_length (optional, positive integers) without using them', async () => {
    const configured = configureArchitecture(
      { architecture: 'iq_resnet18', max_receivers: 10, iq_sequence_length: 1024 },
      'c.json',
    );
    expect(configured.config).toEqual({ architecture: 'iq_resnet18', maxReceivers: 10, iqSequenceLength: 1024 });
    for (const [field, value] of [
      ['max_receivers', 0],
      ['iq_sequence_length', '1024'],
      ['max_receivers', 2.5],
    ] as const) {
      let err: unknown;
      try {
        configureArchitecture({ architecture: 'iq_resnet18', [field]: value }, 'c.json');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as CheckpointError).message).toBe(
        `c.json: ${field}: expected a positive integer or absent, got ${JSON.stringify(value)}`,
      );
    }
    const dir = attentionBundle('iq_resnet18', { max_receivers: 10, iq_sequence_length: 1024 });
    const result = await emitBundle(dir, join(tempDir(), 'model.onnx'));
    expect(result.settings).toEqual({ max_receivers: '10', iq_sequence_length: '1024' });
    // The graph is the same as without them: only the metadata records them.
    const plain = attentionBundle('iq_resnet18');
    const other = await emitBundle(plain, join(tempDir(), 'model.onnx'));
    expect(other.nodes).toBe(result.nodes);
    expect(other.signature).toEqual(result.signature);
  });

  it('runs any IQ length down to one sample, the composed convs (opset ≥ 16) giving what the spec’s conv-by-conv stages (opset 14) give', async () => {
    const [composed, plain] = [await graphOf(IQ_RESNET18, 17), await graphOf(IQ_RESNET18, 14)];
    // Stage input lengths: L 100 → 25, 13, 7 (all odd); 64 → 16, 8, 4 (all even); 37 → 10, 5, 3; 1 and 2 → 1.
    for (const length of [1, 2, 37, 64, 100]) {
      const inputs = attentionInputs('iq_resnet18', 2, 3, none, length, length);
      const [a, b] = [await runGraph(composed, inputs), await runGraph(plain, inputs)];
      expect(a.positions!.dims).toEqual([2, 2]);
      expect(a.positions!.data.every(Number.isFinite)).toBe(true);
      expect(Array.from(a.uncertainties!.data).every((u) => u >= 0.01 && u <= 1)).toBe(true);
      for (const name of ['positions', 'uncertainties']) {
        expect(maxAbsDiff(a[name]!.data, b[name]!.data)).toBeLessThan(2e-6);
      }
    }
    const ops = async (opset: number) => {
      const bundle = await loadBundle(attentionBundle('iq_resnet18'));
      return bundle.architecture
        .checkWeights(bundle.weights)
        .build(bundle.weightsSha256, { opset })
        .model.graph.nodes.filter((n) => n.opType === 'Conv' && !/\/(ends|taps)\//.test(n.name)).length;
    };
    // Conv nodes on the data path (not the folds over weights, nor the end corrections): 9 convs at
    // opset 14, and at 17 the stem, stage 4's first, three composed and the 1×1 after the mean.
    expect([await ops(14), await ops(17)]).toEqual([9, 6]);
  });

  it('accepts weights with or without BatchNorm’s num_batches_tracked counters', async () => {
    const entries = tableEntries(SHAPES.iq_resnet18());
    entries.set('iq_encoder.1.num_batches_tracked', { dtype: 'I64', shape: [] });
    const bundle = await loadBundle(tableBundle({ architecture: 'iq_resnet18' }, entries));
    expect(() => bundle.architecture.checkWeights(bundle.weights)).not.toThrow();
  });

  it('folds each BatchNorm into its conv: none is left', async () => {
    const bundle = await loadBundle(attentionBundle('iq_resnet18'));
    const { model } = bundle.architecture.checkWeights(bundle.weights).build(bundle.weightsSha256, {});
    expect(model.graph.nodes.map((n) => n.opType)).not.toContain('BatchNormalization');
    const names = model.graph.initializers.map((t) => t.name);
    expect(names).toContain('iq_encoder.4.3.weight+iq_encoder.4.4');
  });
});
