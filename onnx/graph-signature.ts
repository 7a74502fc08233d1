/**
 * A graph's inputs and outputs as a model signature (common/model-signature: names, element types
 * and dimensions in graph order, a symbolic dimension as -1 in MLflow's `shape` and by name in
 * `dims`). Read from the IR the emitter built or a reader parsed, so what is published is what the
 * graph says. A graph input or output without a type, or of a type a signature cannot carry, is an
 * OnnxInputError about the graph.
 */
import { isSignatureDtype, type ModelSignature, type TensorSpec } from '../common/model-signature';
import type { Model, ValueInfo } from './ir';
import { OnnxInputError } from './onnx-error';

function tensorSpec(value: ValueInfo, role: 'input' | 'output'): TensorSpec {
  if (value.dtype === undefined || value.shape === undefined) {
    throw new OnnxInputError(
      'graph',
      { subject: `graph ${role} '${value.name}'`, expected: 'an element type and a shape', actual: 'none' },
      `graph ${role} '${value.name}': expected an element type and a shape, the graph records none`,
    );
  }
  if (!isSignatureDtype(value.dtype)) {
    throw new OnnxInputError(
      'graph',
      { subject: `graph ${role} '${value.name}'`, expected: 'float32, int64 or bool', actual: value.dtype },
      `graph ${role} '${value.name}': expected float32, int64 or bool, the graph declares ${value.dtype}`,
    );
  }
  return { name: value.name, dtype: value.dtype, shape: value.shape.map((d) => (typeof d === 'number' ? d : -1)) };
}

export function graphSignature(model: Model): ModelSignature {
  const values = [...model.graph.inputs, ...model.graph.outputs];
  return {
    inputs: model.graph.inputs.map((v) => tensorSpec(v, 'input')),
    outputs: model.graph.outputs.map((v) => tensorSpec(v, 'output')),
    dims: Object.fromEntries(values.map((v) => [v.name, [...(v.shape ?? [])]])),
  };
}
