/**
 * A graph's inputs and outputs as a model signature (common/export-contract's ModelSignature, the
 * form MLflow's tensor specs take): names and element types in graph order, a symbolic dimension as
 * -1. Read from the IR the emitter built or a reader parsed, so what is published is what the graph
 * says.
 */
import type { ModelSignature, TensorSpec } from '../common/export-contract';
import type { Model, ValueInfo } from './ir';

function tensorSpec(value: ValueInfo, role: 'input' | 'output'): TensorSpec {
  if (value.dtype === undefined || value.shape === undefined) {
    throw new Error(`graph ${role} '${value.name}': expected an element type and a shape, the graph records none`);
  }
  return { name: value.name, dtype: value.dtype, shape: value.shape.map((d) => (typeof d === 'number' ? d : -1)) };
}

export function graphSignature(model: Model): ModelSignature {
  return {
    inputs: model.graph.inputs.map((v) => tensorSpec(v, 'input')),
    outputs: model.graph.outputs.map((v) => tensorSpec(v, 'output')),
  };
}
