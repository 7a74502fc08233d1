/**
 * quantize/node-sensitivity.ts: which tensors a quantized node's local rise is read from (a split
 * bias's Add output, not the Conv's own), the comparison graph that names a requantized tensor's
 * DequantizeLinear output as the fp32 tensor, and the rises themselves. Pure: no I/O.
 */
import { describe, expect, it } from 'vitest';
import type { Model, Node } from '../../onnx/ir';
import { exposeRequantized, localRises, probedTensors, sensitivityProbes } from '../../quantize/node-sensitivity';
import type { QuantizationPlan } from '../../quantize/qdq-plan';

const node = (name: string, opType: string, inputs: string[], outputs: string[]): Node => ({
  name,
  opType,
  domain: '',
  inputs,
  outputs,
  attributes: {},
});

describe('sensitivityProbes', () => {
  it("reads a node's output under its fp32 name (after a moved-out bias) and its activation input", () => {
    const plan = {
      nodes: [
        { node: node('a/Conv', 'Conv', ['x', 'w'], ['a/Conv_output_0/before_bias']) },
        { node: node('b/Gemm', 'Gemm', ['h', 'w2', 'b2'], ['b/Gemm_output_0']) },
      ],
    } as unknown as QuantizationPlan;
    const probes = sensitivityProbes(plan);
    expect(probes).toEqual([
      { node: 'a/Conv', output: 'a/Conv_output_0', input: 'x' },
      { node: 'b/Gemm', output: 'b/Gemm_output_0', input: 'h' },
    ]);
    // A graph input has no error of its own to compare.
    expect(probedTensors(probes, new Set(['x']))).toEqual(['a/Conv_output_0', 'b/Gemm_output_0', 'h']);
  });
});

describe('exposeRequantized', () => {
  it("names a requantized tensor's DequantizeLinear output as the tensor, and its producer's output apart", () => {
    const int8 = {
      graph: {
        nodes: [
          node('c/Conv', 'Conv', ['x_dequantized', 'w_dequantized'], ['t']),
          node('t/QuantizeLinear', 'QuantizeLinear', ['t', 's', 'z'], ['t_quantized']),
          node('t/DequantizeLinear', 'DequantizeLinear', ['t_quantized', 's', 'z'], ['t_dequantized']),
          node('ln/LayerNormalization', 'LayerNormalization', ['t_dequantized', 'g'], ['y']),
        ],
      },
    } as unknown as Model;
    const exposed = exposeRequantized(int8, new Set(['t']));
    expect(exposed.graph.nodes.map((n) => [n.inputs, n.outputs])).toEqual([
      [['x_dequantized', 'w_dequantized'], ['t/before_requantize']],
      [['t/before_requantize', 's', 'z'], ['t_quantized']],
      [['t_quantized', 's', 'z'], ['t']],
      [['t', 'g'], ['y']],
    ]);
  });
});

describe('localRises', () => {
  const e = (tensor: string, mae: number, baselineMeanAbs = 1, nonFinite = 0) => ({
    tensor,
    mae,
    baselineMeanAbs,
    nonFinite,
  });
  it('is the relative error of the output minus that of the input; unmatched inputs count 0, unmatched outputs rank last', () => {
    const probes = [
      { node: 'a', output: 'a_out', input: 'x' },
      { node: 'b', output: 'b_out', input: 'a_out' },
      { node: 'c', output: 'missing', input: 'b_out' },
    ];
    const rises = localRises(probes, [e('a_out', 0.2, 10), e('b_out', 0.9, 10)]);
    expect(rises[0]).toEqual({ node: 'a', rise: 0.02 });
    expect(rises[1]?.node).toBe('b');
    expect(rises[1]?.rise).toBeCloseTo(0.07, 12);
    expect(rises[2]).toEqual({ node: 'c', rise: Number.NEGATIVE_INFINITY });
  });

  it('a node whose output turns non-finite rises without bound; one that only passes it on adds nothing', () => {
    const probes = [
      { node: 'a', output: 'a_out', input: 'x' },
      { node: 'b', output: 'b_out', input: 'a_out' },
    ];
    const rises = localRises(probes, [e('a_out', 0, 1, 3), e('b_out', 0, 1, 5)]);
    expect(rises).toEqual([
      { node: 'a', rise: Number.POSITIVE_INFINITY },
      { node: 'b', rise: 0 },
    ]);
  });
});
