/**
 * Ops our checker has no schema for: the library reports them (flagged `noSchema`), the validate
 * stage classifies them as "not checked" rather than failures (activities/validate-structure.ts
 * classifyProblems), and onnxruntime's load is their check (onnx/runtime-load.ts). Shape inference
 * infers nothing through such an op, so nothing downstream of it is reported.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { classifyProblems } from '../../activities/validate-structure';
import { GraphBuilder } from '../../onnx/builder';
import { checkModel } from '../../onnx/checker';
import { attr, float32Tensor, type Model } from '../../onnx/ir';
import { loadInOnnxruntime } from '../../onnx/runtime-load';
import { writeModel } from '../../onnx/write-model';
import { tempDir } from './checkpoint-safetensors-writer';

/**
 * x [batch, 16, 2, 2] → DepthToSpace (no schema here; onnxruntime has it) → [batch, 4, 4, 4] → a 1×1
 * Conv whose weight takes 4 channels → GlobalAveragePool → Flatten → y [batch, 2]. Had the checker
 * guessed that DepthToSpace keeps its input's shape, the Conv would seem to get 16 channels for 4:
 * a problem that is not there. It must guess nothing.
 */
function depthToSpaceModel(opType = 'DepthToSpace', domain = ''): Model {
  const b = new GraphBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['batch_size', 16, 2, 2]);
  const [moved] = b.node(opType, [x], { blocksize: attr.int(2) }, { name: 'd2s', domain });
  const w = b.initializer(float32Tensor('w', [2, 4, 1, 1], new Float32Array(8).fill(0.01)));
  const mixed = b.conv('mix', moved as string, w, undefined, { kernelShape: [1, 1] });
  b.flatten('flatten', b.globalAveragePool('pool', mixed), { output: 'y' });
  b.output('y', 'float32', ['batch_size', 2]);
  const model = b.build();
  return domain === '' ? model : { ...model, otherOpsets: { [domain]: 1 } };
}

describe('an ai.onnx op without a schema', () => {
  it('is reported by the library, flagged noSchema, and nothing downstream of it is reported', () => {
    const report = checkModel(depthToSpaceModel());
    expect(report.problems).toEqual([
      {
        kind: 'unknown-op',
        message: "node 'd2s' (DepthToSpace): no operator DepthToSpace is known for opset 17",
        node: 'd2s',
        opType: 'DepthToSpace',
        noSchema: true,
      },
    ]);
    expect(report.inferred.get('y')).toBeUndefined();
  });

  it('is "not checked" in the validate stage, not a failure', () => {
    const { failures, notChecked } = classifyProblems(checkModel(depthToSpaceModel()).problems);
    expect(failures).toEqual([]);
    expect(notChecked).toEqual([{ opType: 'DepthToSpace', nodes: 1 }]);
  });

  it('an op that exists only from a later opset is a failure, as is any op of another domain', () => {
    const gelu = new GraphBuilder({ opset: 17 });
    gelu.node('Gelu', [gelu.input('x', 'float32', ['n'])], {}, { name: 'g', outputs: ['y'] });
    gelu.output('y', 'float32', ['n']);
    const early = classifyProblems(checkModel(gelu.build()).problems);
    expect(early.notChecked).toEqual([]);
    expect(early.failures.map((p) => p.message)).toEqual([
      "node 'g' (Gelu): Gelu exists from opset 20; this model is opset 17",
    ]);
    const custom = classifyProblems(checkModel(depthToSpaceModel('DepthToSpace', 'com.example')).problems);
    expect(custom.notChecked).toEqual([]);
    expect(custom.failures[0]?.message).toContain("domain 'com.example' is not supported");
  });
});

describe('loadInOnnxruntime', () => {
  it('loads a graph whose unchecked op onnxruntime knows', async () => {
    const path = join(tempDir(), 'd2s.onnx');
    await writeModel(depthToSpaceModel(), path);
    expect(await loadInOnnxruntime(path)).toEqual({ ok: true });
  });

  it("refuses one whose op onnxruntime does not know either, with onnxruntime's message", async () => {
    const path = join(tempDir(), 'frobnicate.onnx');
    await writeModel(depthToSpaceModel('Frobnicate'), path);
    expect(classifyProblems(checkModel(depthToSpaceModel('Frobnicate')).problems).notChecked).toEqual([
      { opType: 'Frobnicate', nodes: 1 },
    ]);
    const loaded = await loadInOnnxruntime(path);
    expect(loaded.ok).toBe(false);
    expect(!loaded.ok && loaded.message).toMatch(/Frobnicate/);
  });
});

describe('shape inference through the ops torch writes', () => {
  it('infers masks, reductions and comparisons the way onnx does', () => {
    const b = new GraphBuilder({ opset: 17 });
    const x = b.input('x', 'float32', ['batch_size', 'receivers', 32]);
    const mask = b.input('mask', 'bool', ['batch_size', 'receivers']);
    const [keep] = b.node('Not', [mask], {}, { name: 'not' });
    const [max] = b.node('ReduceMax', [x], { axes: attr.ints([1]), keepdims: attr.int(0) }, { name: 'max' });
    const [norm] = b.node('ReduceL2', [x], { axes: attr.ints([2]) }, { name: 'l2' });
    const zero = b.initializer(float32Tensor('zero', [], [0]));
    const [positive] = b.node('Greater', [x, zero], {}, { name: 'gt' });
    const [angle] = b.node('Atan', [x], {}, { name: 'atan' });
    const [halves] = b.node('Split', [x], { axis: attr.int(2) }, { name: 'split', outputCount: 2 });
    for (const [name, out] of Object.entries({ keep, max, norm, positive, angle, halves }))
      b.identity(name, out as string, { output: `${name}_out` });
    const { inferred, problems } = checkModel(b.build());
    expect(problems).toEqual([]);
    expect(inferred.get(keep as string)).toEqual({ dtype: 'bool', shape: ['batch_size', 'receivers'] });
    expect(inferred.get(max as string)).toEqual({ dtype: 'float32', shape: ['batch_size', 32] });
    expect(inferred.get(norm as string)).toEqual({ dtype: 'float32', shape: ['batch_size', 'receivers', 1] });
    expect(inferred.get(positive as string)).toEqual({ dtype: 'bool', shape: ['batch_size', 'receivers', 32] });
    expect(inferred.get(angle as string)?.shape).toEqual(['batch_size', 'receivers', 32]);
    expect(inferred.get(halves as string)?.shape).toEqual(['batch_size', 'receivers', 16]);
  });

  it('MaxPool and ConstantOfShape, as IQResNet18 and the attention masks use them', () => {
    const b = new GraphBuilder({ opset: 17 });
    const x = b.input('x', 'float32', ['n', 64, 512]);
    const [pooled] = b.node(
      'MaxPool',
      [x],
      { kernel_shape: attr.ints([3]), strides: attr.ints([2]), pads: attr.ints([1, 1]) },
      { name: 'pool' },
    );
    const shape = b.initializer({
      name: 'shape',
      dtype: 'int64',
      dims: [2],
      data: { kind: 'memory', bytes: new Uint8Array(BigInt64Array.from([3n, 7n]).buffer) },
    });
    const [filled] = b.node('ConstantOfShape', [shape], {}, { name: 'fill' });
    const { inferred, problems } = checkModel(b.build());
    expect(problems).toEqual([]);
    expect(inferred.get(pooled as string)).toEqual({ dtype: 'float32', shape: ['n', 64, 256] });
    expect(inferred.get(filled as string)).toEqual({ dtype: 'float32', shape: [3, 7] });
  });
});
