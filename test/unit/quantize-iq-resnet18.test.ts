/**
 * quantizeOnnxFile on an emitted IQResNet18 (table-made weights, opset 17, so its linear stretches run
 * as composed convs whose weights the graph computes from initializers): those weights are folded and
 * quantized like any other, the plug-in's float scopes (the conv on the mean over length and the
 * attention) stay float, and the result is valid, deterministic and runs. No servers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { INT8_FLOAT_SCOPES_KEY } from '../../common/export-contract';
import { emitBundle } from '../../models';
import { checkModel } from '../../onnx/checker';
import type { Model } from '../../onnx/ir';
import { readModel } from '../../onnx/serialize-read';
import { quantizeOnnxFile, type QuantizationReport } from '../../quantize';
import { attentionFixtureBundle, attentionInputs } from './attention-fixtures';
import { tempDir } from './checkpoint-safetensors-writer';
import { runGraph } from './table-weights';

let dir: string;
let bundle: string;
let fp32: Model;
let int8: Model;
let report: QuantizationReport;

beforeAll(async () => {
  dir = tempDir();
  bundle = await attentionFixtureBundle('iq_resnet18');
  await emitBundle(bundle, join(dir, 'fp32.onnx'), { opset: 17 });
  report = await quantizeOnnxFile({
    modelPath: join(dir, 'fp32.onnx'),
    calibrationPath: join(bundle, 'reference.safetensors'),
    outputPath: join(dir, 'a.int8.onnx'),
  });
  [fp32, int8] = await Promise.all([readModel(join(dir, 'fp32.onnx')), readModel(report.output.path)]);
});

/** The producer of each value, by name. */
const producers = (m: Model) => new Map(m.graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));

describe('quantizeOnnxFile on IQResNet18', () => {
  it('folds the five weights the fp32 graph computes (three composed convs, the conv on the mean and its end taps)', () => {
    expect(report.foldedWeights).toBe(5);
    const computed = producers(fp32);
    const initializers = new Set(fp32.graph.initializers.map((t) => t.name));
    // Convs on activations whose weight a node computes (the taps Convs themselves run on initializers).
    const computedWeights = fp32.graph.nodes.filter(
      (n) => n.opType === 'Conv' && computed.has(n.inputs[1] ?? '') && !initializers.has(n.inputs[0] ?? ''),
    );
    expect(computedWeights).toHaveLength(5);
    // In the int8 graph nothing computes a weight any more: the taps Convs and slices are gone (the
    // DequantizeLinear of a folded weight keeps the name of the value it replaced).
    expect(int8.graph.nodes.filter((n) => n.name.includes('/taps/') && n.opType !== 'DequantizeLinear')).toEqual([]);
  });

  it('quantizes every Conv and Gemm outside the float scopes the plug-in recorded, those inside stay float', () => {
    expect(fp32.metadataProps[INT8_FLOAT_SCOPES_KEY]).toBe('iq_encoder.7.3+mean,attention');
    expect(report.floatScopes).toEqual({ scopes: ['iq_encoder.7.3+mean', 'attention'], nodes: { Conv: 2, Gemm: 2 } });
    expect(report.quantizedNodes).toEqual({ Conv: 11, Gemm: 6 });
    const made = producers(int8);
    for (const node of int8.graph.nodes.filter((n) => n.opType === 'Conv' || n.opType === 'Gemm')) {
      const weightFrom = made.get(node.inputs[1] ?? '')?.opType;
      const scoped = node.name.startsWith('iq_encoder.7.3+mean/') || node.name.startsWith('attention');
      // Quantized: the weight is a DequantizeLinear's; float: an initializer, computed by nothing.
      expect(weightFrom, node.name).toBe(scoped ? undefined : 'DequantizeLinear');
    }
  });

  it('writes a valid graph, the same bytes again, that runs on a batch of another receiver count', async () => {
    expect(checkModel(int8).problems).toEqual([]);
    const again = await quantizeOnnxFile({
      modelPath: join(dir, 'fp32.onnx'),
      calibrationPath: join(bundle, 'reference.safetensors'),
      outputPath: join(dir, 'b.int8.onnx'),
    });
    expect(readFileSync(again.output.path).equals(readFileSync(report.output.path))).toBe(true);
    const out = await runGraph(
      report.output.path,
      attentionInputs('iq_resnet18', 2, 5, (_, i) => i === 4, 9),
    );
    expect(out.positions?.dims).toEqual([2, 2]);
    expect(Array.from(out.uncertainties?.data ?? []).every(Number.isFinite)).toBe(true);
  });
});
