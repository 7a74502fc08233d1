/**
 * runParity on graphs with named, typed, multi-input signatures (onnx/builder) and references of
 * several cases: every case runs whole, at batch 1 and split unevenly; a batch baked into a graph
 * fails the splits that differ, with onnxruntime's own message; NaN where the reference is finite is
 * named by case, output and count; a reference that does not fit the graph is refused before anything
 * runs. No servers.
 */
import { describe, expect, it } from 'vitest';
import {
  batchSplits,
  concatErrors,
  describeSizes,
  ErrorAccumulator,
  ParityError,
  runParity,
  worstErrors,
} from '../../parity';
import {
  bakedBatchGraph,
  f32Tensor,
  receiverCase,
  receiverGraph,
  receiverTensors,
  sqrtGraph,
  writeTensors,
} from './signature-test-graphs';

describe('runParity on reference cases', () => {
  it('passes a graph with an int64 id lookup and a bool mask on two cases of different receivers, every split', async () => {
    const model = await receiverGraph();
    const reference = writeTensors({
      ...receiverTensors(receiverCase(5, 7, 1), 'r7/'),
      ...receiverTensors(receiverCase(4, 4, 2), 'r4/'),
    });
    const report = await runParity(model, reference);
    expect(report.failures).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.samples).toBe(9);
    expect(report.cases?.map((c) => [c.name, c.samples, c.dims, c.splits.map((s) => s.batches)])).toEqual([
      ['r4', 4, { receivers: 4 }, ['4', '1×4', '3+1']],
      ['r7', 5, { receivers: 7 }, ['5', '1×5', '3+2']],
    ]);
    // The summary is one pass over both cases: 9 samples × 3 positions, 4×4 + 5×7 mask values.
    expect(report.outputs.position?.count).toBe(27);
    expect(report.outputs.valid).toMatchObject({ count: 51, maxAbs: 0 });
    expect(report.outputs.position?.mae).toBeLessThan(1e-6);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('runs splits that come out the same once: B = 1 and B = 2', async () => {
    const model = await receiverGraph();
    const reference = writeTensors({
      ...receiverTensors(receiverCase(1, 3, 3), 'one/'),
      ...receiverTensors(receiverCase(2, 3, 4), 'two/'),
    });
    const report = await runParity(model, reference);
    expect(report.cases?.map((c) => c.splits.map((s) => [s.splits, s.batches]))).toEqual([
      [[['whole', 'batch 1', 'uneven'], '1']],
      [
        [['whole'], '2'],
        [['batch 1', 'uneven'], '1×2'],
      ],
    ]);
  });

  it('fails a batch baked into the graph: the whole batch passes, batch 1 and 3+1 fail with what onnxruntime did', async () => {
    const { path, forward } = await bakedBatchGraph();
    const x = Float32Array.from({ length: 16 }, (_, i) => i - 5);
    const reference = writeTensors({ x: f32Tensor([4, 4], x), y: f32Tensor([4, 4], forward(x)) });
    const report = await runParity(path, reference, { batchSize: 2 });
    expect(report.passed).toBe(false);
    const [c] = report.cases ?? [];
    expect(c?.splits.map((s) => [s.batches, s.passed])).toEqual([
      ['2×2', true],
      ['1×4', false],
      ['3+1', false],
    ]);
    expect(report.failures).toContain(
      "split 1×4: output 'y': onnxruntime returned float32 [2, 4] for samples [0, 1), expected float32 [1, 4]",
    );
    const uneven = report.failures.find((f) => f.startsWith('split 3+1: onnxruntime failed on samples [0, 3): '));
    expect(uneven).toMatch(/broadcast/i);
    expect(c?.splits[2]?.error).toBe(uneven?.slice('split 3+1: '.length));
  });

  it('names the case, the output and the count of NaN where the reference is finite, never an MAE of NaN', async () => {
    const model = await sqrtGraph();
    const good = [1, 4, 9, 16];
    const bad = [1, -4, 9, -16, -1, 0];
    const reference = writeTensors({
      'good/x': f32Tensor([2, 2], good),
      'good/y': f32Tensor([2, 2], good.map(Math.sqrt)),
      'bad/x': f32Tensor([3, 2], bad),
      'bad/y': f32Tensor([3, 2], [1, 2, 3, 4, 1, 0]),
    });
    const report = await runParity(model, reference);
    expect(report.passed).toBe(false);
    expect(report.failures).toContain("case 'bad': y: 3 NaN/Inf values in the model's output");
    expect(report.failures.some((f) => f.startsWith("case 'good'"))).toBe(false);
    expect(report.failures.join('\n')).not.toMatch(/NaN >|MAE NaN/);
    expect(report.outputs.y?.nonFiniteOutputs).toBe(3);
    expect(Number.isFinite(report.outputs.y?.mae)).toBe(true);
  });

  it('refuses a reference case whose receivers disagree, before anything runs', async () => {
    const model = await receiverGraph();
    const c = receiverTensors(receiverCase(2, 4, 5), 'r4/');
    const other = receiverTensors(receiverCase(2, 5, 6), 'r4/');
    const err = await runParity(model, writeTensors({ ...c, 'r4/mask': other['r4/mask']! })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParityError);
    expect((err as ParityError).subject).toBe("case 'r4': tensor 'r4/mask'.shape");
    expect((err as ParityError).actual).toBe('[2, 5]');
  });

  it("lists the reference's keys that are neither an input nor an output", async () => {
    const model = await sqrtGraph();
    const reference = writeTensors({
      'a/x': f32Tensor([1, 2], [1, 4]),
      'a/y': f32Tensor([1, 2], [1, 2]),
      'a/encoder.0/Relu': f32Tensor([1, 2], [0, 0]),
    });
    const report = await runParity(model, reference);
    expect(report.passed).toBe(true);
    expect(report.unusedTensors).toEqual(['a/encoder.0/Relu']);
  });
});

describe('batchSplits', () => {
  it.each([
    [1, 32, [[['whole', 'batch 1', 'uneven'], [1]]]],
    [
      2,
      32,
      [
        [['whole'], [2]],
        [
          ['batch 1', 'uneven'],
          [1, 1],
        ],
      ],
    ],
    [
      4,
      32,
      [
        [['whole'], [4]],
        [['batch 1'], [1, 1, 1, 1]],
        [['uneven'], [3, 1]],
      ],
    ],
    [
      70,
      32,
      [
        [['whole'], [32, 32, 6]],
        [['batch 1'], Array(70).fill(1)],
        [['uneven'], [3, 32, 32, 3]],
      ],
    ],
  ])('B = %i, batch size %i: whole, batch 1 and uneven, the same ones once', (samples, size, expected) => {
    expect(batchSplits(samples, size).map((p) => [p.splits, p.sizes])).toEqual(expected);
  });

  it('describes runs with repeats folded', () => {
    expect([[32, 32, 6], [1, 1, 1], [3, 4], [5]].map(describeSizes)).toEqual(['32×2+6', '1×3', '3+4', '5']);
  });
});

describe('concatErrors and worstErrors', () => {
  const of = (got: number[], want: number[]) => {
    const acc = new ErrorAccumulator();
    acc.add(got, want);
    return acc.result();
  };

  it('read two cases as one pass: the same figures as one accumulator over both', () => {
    const a = of([1, 2, Number.NaN], [1, 2.5, 0]);
    const b = of([0, 4], [1, 4]);
    expect(concatErrors(a, b)).toEqual(of([1, 2, Number.NaN, 0, 4], [1, 2.5, 0, 1, 4]));
  });

  it('take the worst of each figure over the splits, the index following the largest error', () => {
    const whole = of([1, 2], [1, 2.5]);
    const split = of([1.1, 2], [1, 2]);
    expect(worstErrors([whole, split])).toMatchObject({ count: 2, mae: 0.25, maxAbs: 0.5, maxAbsIndex: 1 });
  });
});
