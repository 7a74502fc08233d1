/**
 * Unit: the module path a node name carries, for our emitter's names and torch.onnx's scoped ones,
 * and a graph listed out of order is walked in topological order.
 */
import { describe, expect, it } from 'vitest';
import { graphOrder, modulePathOf } from '../../diagnose/graph-order';
import { brokenCases } from './onnx-test-models';

describe('modulePathOf', () => {
  it.each([
    ['backbone.0.1.0.block.0/Conv', 'backbone.0.1.0.block.0'],
    ['backbone.0.1.0.block.3/MatMul_1', 'backbone.0.1.0.block.3'],
    ['attention/in_proj/Gemm', 'attention.in_proj'],
    ['/backbone/backbone.0/backbone.0.1/backbone.0.1.0/block/block.0/Conv', 'backbone.0.1.0.block.0'],
    ['/position_head/position_head.0/Gemm', 'position_head.0'],
    ['/Clip', ''],
    ['Clip_3', ''],
  ])('%s → %s', (name, path) => {
    expect(modulePathOf(name)).toBe(path);
  });
});

describe('graphOrder', () => {
  it('puts every node after the producers of its inputs, whatever order the graph lists them in', () => {
    const unsorted = brokenCases().find((c) => c.kind === 'topological-order')?.model;
    if (unsorted === undefined) throw new Error('no unsorted case');
    const { nodes, producer } = graphOrder(unsorted.graph);
    expect(nodes).toHaveLength(unsorted.graph.nodes.length);
    nodes.forEach((n, i) => {
      for (const v of n.inputs) expect(producer.get(v) ?? -1).toBeLessThan(i);
    });
    expect(nodes).not.toEqual(unsorted.graph.nodes);
  });
});
