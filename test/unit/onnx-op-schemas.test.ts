/**
 * Every op torch's exporters write for the three Heimdall models at opsets 14 to 20 has a schema in
 * onnx/op-schemas.ts at the opset it was written with. The list is the "fixtures" helper's census
 * (test/fixtures/torch-export-ops.json: TorchScript in torch 1.13 and 2.x, dynamo in 2.x, which
 * writes opset 18 when asked for 14-17), copied here as of its first run: op → the ai.onnx opsets it
 * appeared at.
 */
import { describe, expect, it } from 'vitest';
import { lookupSchema } from '../../onnx/op-schemas';

const OPSETS_14_TO_20 = [14, 15, 16, 17, 18, 19, 20];

const TORCH_EXPORT_OPS: Record<string, readonly number[]> = {
  Add: OPSETS_14_TO_20,
  Atan: OPSETS_14_TO_20,
  BatchNormalization: OPSETS_14_TO_20,
  Cast: OPSETS_14_TO_20,
  Clip: OPSETS_14_TO_20,
  Concat: OPSETS_14_TO_20,
  Constant: OPSETS_14_TO_20,
  ConstantOfShape: OPSETS_14_TO_20,
  Conv: OPSETS_14_TO_20,
  Cos: OPSETS_14_TO_20,
  Div: OPSETS_14_TO_20,
  Equal: OPSETS_14_TO_20,
  Erf: [14, 15, 16, 17, 18, 19],
  Expand: OPSETS_14_TO_20,
  Flatten: OPSETS_14_TO_20,
  Gather: OPSETS_14_TO_20,
  Gelu: [20],
  Gemm: OPSETS_14_TO_20,
  GlobalAveragePool: OPSETS_14_TO_20,
  Greater: OPSETS_14_TO_20,
  Identity: OPSETS_14_TO_20,
  LayerNormalization: [17, 18, 19, 20],
  Less: OPSETS_14_TO_20,
  MatMul: OPSETS_14_TO_20,
  MaxPool: OPSETS_14_TO_20,
  Mod: OPSETS_14_TO_20,
  Mul: OPSETS_14_TO_20,
  Not: OPSETS_14_TO_20,
  Pow: [14, 15, 16],
  ReduceL2: OPSETS_14_TO_20,
  ReduceMax: OPSETS_14_TO_20,
  ReduceMean: OPSETS_14_TO_20,
  ReduceProd: OPSETS_14_TO_20,
  ReduceSum: OPSETS_14_TO_20,
  Relu: OPSETS_14_TO_20,
  Reshape: OPSETS_14_TO_20,
  Shape: OPSETS_14_TO_20,
  Sigmoid: OPSETS_14_TO_20,
  Sin: OPSETS_14_TO_20,
  Slice: OPSETS_14_TO_20,
  Softmax: OPSETS_14_TO_20,
  Softplus: OPSETS_14_TO_20,
  Sqrt: OPSETS_14_TO_20,
  Squeeze: OPSETS_14_TO_20,
  Sub: OPSETS_14_TO_20,
  Transpose: OPSETS_14_TO_20,
  Unsqueeze: OPSETS_14_TO_20,
  Where: OPSETS_14_TO_20,
};

describe('op schemas cover what torch exports for the Heimdall models', () => {
  it.each(Object.entries(TORCH_EXPORT_OPS))('%s at %j', (opType, opsets) => {
    for (const opset of opsets)
      expect(lookupSchema(opType, opset), `${opType} at opset ${opset}`).toHaveProperty('schema');
  });
});
