/**
 * Calibration: the fp32 graph, with the activations the plan quantizes exposed as extra graph
 * outputs, run in onnxruntime-node over the calibration inputs (every graph input, case by case) a
 * batch at a time; each activation's
 * statistics are accumulated per batch (min/max; for percentile and entropy a second pass of
 * magnitude histograms over the range the first found). The exposed graph is written to a temporary
 * folder and removed afterwards. Threads are fixed, so the ranges, and with them the int8 file, do not
 * depend on the host's core count.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Model } from '../onnx/ir';
import { writeModel } from '../onnx/write-model';
import { chooseRange, MagnitudeHistogram, MinMax, type Range } from './activation-ranges';
import type { CalibrationInputs, CalibrationTensor } from './calibration-inputs';
import type { CalibrationMethod } from './calibration-methods';
import { QuantizeError } from './quantize-error';

/** Samples per onnxruntime run: bounds memory with a hundred exposed activations. */
export const CALIBRATION_BATCH = 8;
/** Fixed intra-op threads (see the header). */
export const CALIBRATION_THREADS = 2;

function feedTensor(t: CalibrationTensor): ort.Tensor {
  if (t.data instanceof Float32Array) return new ort.Tensor('float32', t.data, t.dims);
  if (t.data instanceof BigInt64Array) return new ort.Tensor('int64', t.data, t.dims);
  return new ort.Tensor('bool', t.data, t.dims);
}

export async function calibrate(
  model: Model,
  activations: readonly string[],
  inputs: CalibrationInputs,
  method: CalibrationMethod,
  modelFile: string,
): Promise<Map<string, Range>> {
  const graphInputs = new Set(model.graph.inputs.map((i) => i.name));
  const existing = new Set(model.graph.outputs.map((o) => o.name));
  const exposed: Model = {
    ...model,
    graph: {
      ...model.graph,
      outputs: [
        ...model.graph.outputs,
        ...activations
          .filter((a) => !graphInputs.has(a) && !existing.has(a))
          .map((name) => ({ name, dtype: 'float32' as const })),
      ],
    },
  };
  const dir = await mkdtemp(join(tmpdir(), 'onnx-export-calibration-'));
  try {
    const path = join(dir, 'calibration.onnx');
    await writeModel(exposed, path);
    const session = await ort.InferenceSession.create(path, {
      intraOpNumThreads: CALIBRATION_THREADS,
      interOpNumThreads: 1,
    });
    try {
      /** Feeds every calibration batch and hands each activation's values to `visit`. */
      const eachBatch = async (visit: (name: string, values: Float32Array) => void): Promise<void> => {
        for await (const batch of inputs.batches(CALIBRATION_BATCH)) {
          const feed: Record<string, ort.Tensor> = {};
          for (const t of batch) {
            feed[t.name] = feedTensor(t);
            // A float input read by a quantized node is an activation too: the feed is its values.
            if (t.data instanceof Float32Array) visit(t.name, t.data);
          }
          const out = await session.run(feed);
          for (const name of activations) {
            if (graphInputs.has(name)) continue;
            const t = out[name];
            if (t?.type !== 'float32') {
              throw new Error(`calibration: onnxruntime returned no float32 '${name}' (got ${t?.type ?? 'nothing'})`);
            }
            visit(name, t.data as Float32Array);
          }
        }
      };
      const minMax = new Map(activations.map((a) => [a, new MinMax()]));
      await eachBatch((name, values) => minMax.get(name)?.add(values));
      for (const [name, seen] of minMax) {
        if (seen.nonFinite > 0 || seen.count === 0) {
          throw new QuantizeError({
            file: modelFile,
            subject: `activation '${name}' on ${inputs.path}`,
            expected: 'finite values for every calibration input',
            actual: `${seen.nonFinite} NaN/Inf values in ${seen.count}`,
          });
        }
      }
      if (method === 'minmax') return new Map([...minMax].map(([n, s]) => [n, { min: s.min, max: s.max }]));
      const histograms = new Map([...minMax].map(([n, s]) => [n, new MagnitudeHistogram({ min: s.min, max: s.max })]));
      await eachBatch((name, values) => histograms.get(name)?.add(values));
      return new Map([...histograms].map(([n, h]) => [n, chooseRange(method, h.seen, h)]));
    } finally {
      await session.release();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
