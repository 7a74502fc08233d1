/**
 * quantizeOnnxFile on a graph with several inputs (float features over receivers, int64 ids, a bool
 * mask), a MatMul on its 3-D activation and a Gemm on the pooled one, calibrated on reference cases of
 * different receiver counts: what it quantizes, that the result runs close to fp32, that calibration
 * reads only the inputs and is deterministic, and that a case without an input is refused naming it.
 * No servers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkModel } from '../../onnx/checker';
import { readModel } from '../../onnx/serialize-read';
import { QuantizeError, quantizeOnnxFile, type QuantizationReport } from '../../quantize';
import { tempDir } from './checkpoint-safetensors-writer';
import { receiverCase, receiverGraph, receiverTensors, writeTensors, type ReceiverCase } from './signature-test-graphs';

const cases = { r4: receiverCase(6, 4, 21), r7: receiverCase(5, 7, 22) };
let dir: string;
let fp32: string;
let calibration: string;
let report: QuantizationReport;

beforeAll(async () => {
  dir = tempDir();
  fp32 = await receiverGraph();
  calibration = writeTensors(
    { ...receiverTensors(cases.r7, 'r7/', false), ...receiverTensors(cases.r4, 'r4/', false) },
    'calibration.safetensors',
  );
  report = await quantizeOnnxFile({ modelPath: fp32, calibrationPath: calibration, outputPath: join(dir, 'a.onnx') });
});

async function position(path: string, c: ReceiverCase): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({
      features: new ort.Tensor('float32', c.features, [c.batch, c.receivers, 6]),
      ids: new ort.Tensor('int64', c.ids, [c.batch, c.receivers]),
      mask: new ort.Tensor('bool', c.mask, [c.batch, c.receivers]),
    });
    return out.position?.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('quantizeOnnxFile on a multi-input graph', () => {
  it('calibrates on every input, case by case, and quantizes the MatMul on the 3-D activation and the Gemm', () => {
    expect(report.quantizedNodes).toEqual({ MatMul: 1, Gemm: 1 });
    expect(report.calibration).toMatchObject({ samples: 11, cases: 2, inputs: ['features', 'ids', 'mask'] });
  });

  it('writes a graph our checker accepts that onnxruntime runs on ids and masks, close to fp32', async () => {
    expect(checkModel(await readModel(report.output.path)).problems).toEqual([]);
    const held = receiverCase(4, 5, 23);
    const a = await position(fp32, held);
    const b = await position(report.output.path, held);
    const mae = a.reduce((s, v, i) => s + Math.abs(v - (b[i] as number)), 0) / a.length;
    const spread = Math.max(...a) - Math.min(...a);
    expect(mae).toBeGreaterThan(0);
    expect(mae).toBeLessThan(0.05 * spread + 1e-3);
  });

  it('reads only the inputs: a reference with outputs gives the same bytes, and so does a second run', async () => {
    const reference = writeTensors({ ...receiverTensors(cases.r4, 'r4/'), ...receiverTensors(cases.r7, 'r7/') });
    const again = await quantizeOnnxFile({
      modelPath: fp32,
      calibrationPath: reference,
      outputPath: join(dir, 'b.onnx'),
    });
    expect(again.output.sha256).toBe(report.output.sha256);
    expect(readFileSync(again.output.path).equals(readFileSync(report.output.path))).toBe(true);
  });

  it('refuses a case without an input, naming the file, the case, the tensor and what the case has', async () => {
    const { 'r4/mask': _dropped, ...rest } = receiverTensors(cases.r4, 'r4/', false);
    const path = writeTensors({ ...rest, ...receiverTensors(cases.r7, 'r7/', false) }, 'calibration.safetensors');
    const err = await quantizeOnnxFile({
      modelPath: fp32,
      calibrationPath: path,
      outputPath: join(dir, 'c.onnx'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuantizeError);
    expect((err as Error).message).toBe(
      `${path}: case 'r4': tensor 'r4/mask': expected present (BOOL [N, receivers] with N >= 1), got missing (has r4/features, r4/ids)`,
    );
  });
});
