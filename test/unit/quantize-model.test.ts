/**
 * quantizeOnnxFile on the committed small LocalizationNet: what it quantizes and leaves float, that
 * the result is valid, deterministic and close to the fp32 graph in onnxruntime, and that bad input
 * fails naming the file and tensor. No servers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { emitBundle } from '../../models';
import { checkModel } from '../../onnx/checker';
import { dataByteLength } from '../../onnx/ir';
import { readModel } from '../../onnx/serialize-read';
import { QuantizeError, quantizeOnnxFile, type QuantizationReport } from '../../quantize';
import { encode, f32, layout, tempDir, writeTemp } from './checkpoint-safetensors-writer';
import { SMALL_BUNDLE } from './models-fixtures';

const reference = join(SMALL_BUNDLE, 'reference.safetensors');
let dir: string;
let fp32: string;
let report: QuantizationReport;

beforeAll(async () => {
  dir = tempDir();
  fp32 = join(dir, 'model.onnx');
  await emitBundle(SMALL_BUNDLE, fp32, { opset: 17 });
  report = await quantizeOnnxFile({
    modelPath: fp32,
    calibrationPath: reference,
    outputPath: join(dir, 'a.int8.onnx'),
  });
});

async function outputs(path: string, x: Float32Array, n: number): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({ mel_spectrogram: new ort.Tensor('float32', x, [n, 3, 128, 32]) });
    return { positions: out.positions?.data as Float32Array, uncertainties: out.uncertainties?.data as Float32Array };
  } finally {
    await session.release();
  }
}

describe('quantizeOnnxFile', () => {
  it('quantizes every Conv and Gemm and only them, with Q/DQ in the file', async () => {
    const before = await readModel(fp32);
    const after = await readModel(report.output.path);
    const count = (m: typeof before, op: string): number => m.graph.nodes.filter((n) => n.opType === op).length;
    expect(report.quantizedNodes).toEqual({ Conv: count(before, 'Conv'), Gemm: count(before, 'Gemm') });
    // LayerNorm, the GELU's Erf, Softplus and Clip stay float: the same count before and after.
    for (const op of ['LayerNormalization', 'Erf', 'Softplus', 'Clip'])
      expect(count(after, op)).toBe(count(before, op));
    // Every quantized weight is int8 and no float32 Conv/Gemm weight is left.
    const int8 = after.graph.initializers.filter((t) => t.dtype === 'int8' && t.name.endsWith('_quantized'));
    expect(int8.length).toBe(count(before, 'Conv') + count(before, 'Gemm'));
    const float32Weights = new Set(
      before.graph.nodes.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm').map((n) => n.inputs[1]),
    );
    expect(after.graph.initializers.filter((t) => float32Weights.has(t.name))).toEqual([]);
    expect(count(after, 'QuantizeLinear')).toBe(report.quantizedActivations);
    expect(after.metadataProps.calibration_method).toBe('percentile');
    expect(after.metadataProps.calibration_samples).toBe(String(report.calibration.samples));
  });

  it('writes a graph our checker accepts, with a byte per weight where fp32 had four', async () => {
    const before = await readModel(fp32);
    const after = await readModel(report.output.path);
    expect(checkModel(after).problems).toEqual([]);
    const bytes = (ts: typeof before.graph.initializers): number => ts.reduce((s, t) => s + dataByteLength(t.data), 0);
    const weightNames = new Set(
      before.graph.nodes.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm').map((n) => n.inputs[1]),
    );
    const fp32Weights = bytes(before.graph.initializers.filter((t) => weightNames.has(t.name)));
    const int8Weights = bytes(
      after.graph.initializers.filter((t) => t.dtype === 'int8' && t.name.endsWith('_quantized')),
    );
    expect(int8Weights * 4).toBe(fp32Weights);
  });

  it('gives the same bytes for the same model, calibration file and method', async () => {
    const again = await quantizeOnnxFile({
      modelPath: fp32,
      calibrationPath: reference,
      outputPath: join(dir, 'b.int8.onnx'),
    });
    expect(again.output.sha256).toBe(report.output.sha256);
    expect(readFileSync(again.output.path).equals(readFileSync(report.output.path))).toBe(true);
  });

  it('runs in onnxruntime close to the fp32 graph (and not equal to it)', async () => {
    const x = new Float32Array(4 * 3 * 128 * 32).map((_, i) => Math.sin(i * 0.37));
    const a = await outputs(fp32, x, 4);
    const b = await outputs(report.output.path, x, 4);
    for (const name of ['positions', 'uncertainties']) {
      const fa = a[name] as Float32Array;
      const fb = b[name] as Float32Array;
      const mae = fa.reduce((s, v, i) => s + Math.abs(v - (fb[i] as number)), 0) / fa.length;
      const spread = Math.max(...fa) - Math.min(...fa);
      expect(mae, name).toBeLessThan(0.1 * spread + 1e-3);
      expect(mae, name).toBeGreaterThan(0);
    }
  });

  it.each(['minmax', 'entropy'] as const)('calibrates with %s too, into a different valid graph', async (method) => {
    const other = await quantizeOnnxFile({
      modelPath: fp32,
      calibrationPath: reference,
      outputPath: join(dir, `${method}.onnx`),
      method,
    });
    expect(other.method).toBe(method);
    expect(other.output.sha256).not.toBe(report.output.sha256);
    expect(checkModel(await readModel(other.output.path)).problems).toEqual([]);
  });

  it('refuses a calibration file without the input tensor, naming the file and the tensor', async () => {
    const { header, data } = layout({
      inputs: { dtype: 'F32', shape: [1, 3, 128, 32], data: f32(new Array(3 * 128 * 32).fill(0)) },
    });
    const path = writeTemp(encode(header, data), 'calibration.safetensors');
    const err = await quantizeOnnxFile({
      modelPath: fp32,
      calibrationPath: path,
      outputPath: join(dir, 'x.onnx'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuantizeError);
    expect((err as Error).message).toBe(
      `${path}: tensor 'mel_spectrogram': expected present (F32 [N, 3, 128, 32] with N >= 1), got missing (has inputs)`,
    );
  });

  it('refuses calibration inputs of the wrong shape', async () => {
    const { header, data } = layout({
      mel_spectrogram: { dtype: 'F32', shape: [2, 3, 64, 32], data: f32(new Array(2 * 3 * 64 * 32).fill(0)) },
    });
    const path = writeTemp(encode(header, data), 'calibration.safetensors');
    await expect(
      quantizeOnnxFile({ modelPath: fp32, calibrationPath: path, outputPath: join(dir, 'y.onnx') }),
    ).rejects.toThrow(
      `${path}: tensor 'mel_spectrogram'.shape: expected [N, 3, 128, 32] with N >= 1, got [2, 3, 64, 32]`,
    );
  });

  it('refuses a graph that is already quantized', async () => {
    await expect(
      quantizeOnnxFile({ modelPath: report.output.path, calibrationPath: reference, outputPath: join(dir, 'z.onnx') }),
    ).rejects.toThrow(/metadata quantization: expected an fp32 graph \(not quantized yet\)/);
  });
});
