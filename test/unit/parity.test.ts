import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emitBundle } from '../../models';
import { GraphBuilder } from '../../onnx/builder';
import { float32Tensor } from '../../onnx/ir';
import { writeModel } from '../../onnx/write-model';
import { ErrorAccumulator, ParityError, runParity } from '../../parity';
import { tempDir } from './checkpoint-safetensors-writer';
import { SMALL_BUNDLE, writeSafetensors, type Entry } from './models-fixtures';

const REFERENCE = join(SMALL_BUNDLE, 'reference.safetensors');

async function smallModel(): Promise<string> {
  const out = join(tempDir(), 'model.onnx');
  await emitBundle(SMALL_BUNDLE, out);
  return out;
}

/** positions = 0/0 (NaN), uncertainties = 0: a model whose output is not finite. */
async function nanModel(): Promise<string> {
  const b = new GraphBuilder({ opset: 17 });
  const x = b.input('mel_spectrogram', 'float32', ['batch_size', 3, 128, 32]);
  const flat = b.flatten('flatten', x);
  const w = b.initializer(float32Tensor('w', [2, 3 * 128 * 32], new Float32Array(2 * 3 * 128 * 32)));
  const zero = b.gemm('gemm', flat, w, undefined, { transB: 1 });
  b.div('nan', zero, zero, { output: 'positions' });
  b.identity('zero', zero, { output: 'uncertainties' });
  b.output('positions', 'float32', ['batch_size', 2]);
  b.output('uncertainties', 'float32', ['batch_size', 2]);
  const path = join(tempDir(), 'nan.onnx');
  await writeModel(b.build(), path);
  return path;
}

const f32 = (n: number, fill = 0.5) => new Uint8Array(new Float32Array(n).fill(fill).buffer);

function reference(entries: Record<string, Entry>): string {
  const path = join(tempDir(), 'reference.safetensors');
  writeSafetensors(path, new Map(Object.entries(entries)));
  return path;
}

describe('ErrorAccumulator', () => {
  it.each([
    ['exact', [1, 2], [1, 2], { mae: 0, maxAbs: 0, maxRel: 0 }],
    ['one off', [1, 2.5, 3, 4], [1, 2, 3, 4], { mae: 0.125, maxAbs: 0.5, maxRel: 0.25, maxAbsIndex: 1 }],
    ['near-zero reference uses the floor', [1e-6, 0], [0, 0], { maxAbs: 1e-6, maxRel: 1 }],
    ['NaN output', [Number.NaN, 1], [1, 1], { nonFiniteOutputs: 1, mae: 0 }],
    ['Inf reference', [1, 1], [Number.POSITIVE_INFINITY, 1], { nonFiniteReference: 1 }],
  ])('%s', (_label, got, want, expected) => {
    const acc = new ErrorAccumulator();
    acc.add(got, want);
    const r = acc.result();
    for (const [k, v] of Object.entries(expected)) expect(r[k as keyof typeof r]).toBeCloseTo(v as number, 12);
  });

  it('accumulates across batches with global indices', () => {
    const acc = new ErrorAccumulator();
    acc.add([0, 0], [0, 0]);
    acc.add([0, 3], [0, 0]);
    expect(acc.result()).toMatchObject({ count: 4, mae: 0.75, maxAbs: 3, maxAbsIndex: 3 });
  });
});

describe('runParity', () => {
  it('passes the emitted small model, batched (batch 1 and 32 agree)', async () => {
    const model = await smallModel();
    const [one, many] = await Promise.all([runParity(model, REFERENCE, { batchSize: 1 }), runParity(model, REFERENCE)]);
    expect(one.passed).toBe(true);
    expect(one.samples).toBe(2);
    expect(one.outputs.positions!.count).toBe(4);
    expect(one.outputs.positions!.mae).toBeLessThan(1e-6);
    expect(many.outputs.positions!.maxAbs).toBeCloseTo(one.outputs.positions!.maxAbs, 7);
    expect(JSON.parse(JSON.stringify(one))).toEqual(one);
  });

  it('fails over a tolerance set tighter than float32 rounding, naming the output', async () => {
    const report = await runParity(await smallModel(), REFERENCE, { mae: 1e-12, maxAbs: 1e-12 });
    expect(report.passed).toBe(false);
    expect(report.failures.some((f) => /^positions: MAE .* > 1e-12$/.test(f))).toBe(true);
  });

  it('catches NaN in the model output', async () => {
    const report = await runParity(await nanModel(), REFERENCE);
    expect(report.passed).toBe(false);
    expect(report.outputs.positions!.nonFiniteOutputs).toBe(4);
    expect(report.failures).toContain("positions: 4 NaN/Inf values in the model's output");
  });

  it.each([
    [
      'missing output tensor',
      { mel_spectrogram: { dtype: 'F32', shape: [1, 3, 128, 32] }, positions: { dtype: 'F32', shape: [1, 2] } },
      "tensor 'uncertainties'",
      'missing',
    ],
    [
      'wrong output shape',
      {
        mel_spectrogram: { dtype: 'F32', shape: [2, 3, 128, 32] },
        positions: { dtype: 'F32', shape: [2, 3] },
        uncertainties: { dtype: 'F32', shape: [2, 2] },
      },
      "tensor 'positions'.shape",
      '[2, 3]',
    ],
    [
      'N mismatch',
      {
        mel_spectrogram: { dtype: 'F32', shape: [2, 3, 128, 32] },
        positions: { dtype: 'F32', shape: [3, 2] },
        uncertainties: { dtype: 'F32', shape: [3, 2] },
      },
      "tensor 'positions'.shape",
      '[3, 2]',
    ],
    [
      'wrong input rank',
      {
        mel_spectrogram: { dtype: 'F32', shape: [2, 128, 32] },
        positions: { dtype: 'F32', shape: [2, 2] },
        uncertainties: { dtype: 'F32', shape: [2, 2] },
      },
      "tensor 'mel_spectrogram'.shape",
      '[2, 128, 32]',
    ],
    [
      'wrong dtype',
      {
        mel_spectrogram: { dtype: 'F16', shape: [2, 3, 128, 32] },
        positions: { dtype: 'F32', shape: [2, 2] },
        uncertainties: { dtype: 'F32', shape: [2, 2] },
      },
      "tensor 'mel_spectrogram'.dtype",
      'F16',
    ],
  ] as const)('refuses a reference with %s', async (_label, entries, subject, actual) => {
    const err = await runParity(await smallModel(), reference(entries)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParityError);
    expect((err as ParityError).subject).toBe(subject);
    expect((err as ParityError).actual).toBe(actual);
  });

  it('refuses a reference whose input shape the model does not take', async () => {
    const path = reference({
      mel_spectrogram: { dtype: 'F32', shape: [1, 3, 64, 32], data: f32(3 * 64 * 32) },
      positions: { dtype: 'F32', shape: [1, 2] },
      uncertainties: { dtype: 'F32', shape: [1, 2] },
    });
    await expect(runParity(await smallModel(), path)).rejects.toThrow(
      "input 'mel_spectrogram': expected [N, 3, 64, 32] (the reference's), got [batch_size, 3, 128, 32]",
    );
  });

  it('counts NaN in the reference as a failure of the reference', async () => {
    const path = reference({
      mel_spectrogram: { dtype: 'F32', shape: [1, 3, 128, 32], data: f32(3 * 128 * 32) },
      positions: { dtype: 'F32', shape: [1, 2], data: f32(2, Number.NaN) },
      uncertainties: { dtype: 'F32', shape: [1, 2], data: f32(2) },
    });
    const report = await runParity(await smallModel(), path, { mae: 10, maxAbs: 10 });
    expect(report.outputs.positions!.nonFiniteReference).toBe(2);
    expect(report.passed).toBe(false);
  });
});
