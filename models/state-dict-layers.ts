/**
 * Pieces of a state_dict graph that several architectures build alike: an initializer that is the
 * weights file's bytes as they are (named after its key, read by range at serialization;
 * weight-tensors.ts), an nn.Sequential of Linear layers with ReLU between them as Gemm/Relu nodes
 * (Dropout is the identity in eval), the graph's inputs and outputs declared from the same table that
 * gives its signature, and the metadata every graph records. It must not read tensor data nor know
 * any particular architecture.
 */
import type { BundleConfig, WeightsFile } from '../checkpoint';
import type { ModelSignature } from '../common/model-signature';
import type { GraphBuilder } from '../onnx/builder';
import type { BuildOptions } from './architecture';
import type { DataType } from '../onnx/ir';
import { float32Weight } from './weight-tensors';

/** An initializer from the file: `key` names it; `dims` reshapes it (same element count), default the stored shape. */
export type FileInitializer = (key: string, dims?: readonly number[]) => string;

export function fileInitializers(b: GraphBuilder, weights: WeightsFile): FileInitializer {
  return (key, dims) => b.initializer(float32Weight(weights, key, dims));
}

/**
 * Linear layers `<prefix>.<i>` for each i of `indices`, ReLU after every one but the last (the
 * Sequential's ReLU sits at i + 1): `x` is [rows, in]. `output` names the last layer's value.
 */
export function linearStack(
  b: GraphBuilder,
  file: FileInitializer,
  prefix: string,
  indices: readonly number[],
  x: string,
  output?: string,
): string {
  let h = x;
  indices.forEach((i, k) => {
    const scope = `${prefix}.${i}`;
    const last = k === indices.length - 1;
    h = b.gemm(scope, h, file(`${scope}.weight`), file(`${scope}.bias`), {
      transB: 1,
      ...(last && output !== undefined ? { output } : {}),
    });
    if (!last) h = b.relu(`${prefix}.${i + 1}`, h);
  });
  return h;
}

/** One graph input or output: its name, element type and dims (symbolic ones by name). */
export interface TensorDeclaration {
  readonly name: string;
  readonly dtype: DataType & ('float32' | 'int64' | 'bool');
  readonly dims: readonly (number | string)[];
}

/** The signature a graph declaring `inputs` and `outputs` has (graph order; -1 for a symbolic dim). */
export function declaredSignature(
  inputs: readonly TensorDeclaration[],
  outputs: readonly TensorDeclaration[],
): ModelSignature {
  const spec = (t: TensorDeclaration) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.dims.map((d) => (typeof d === 'number' ? d : -1)),
  });
  return {
    inputs: inputs.map(spec),
    outputs: outputs.map(spec),
    dims: Object.fromEntries([...inputs, ...outputs].map((t) => [t.name, [...t.dims]])),
  };
}

/** Declares the graph inputs of the table; returns their value names in order. */
export function declareInputs(b: GraphBuilder, inputs: readonly TensorDeclaration[]): string[] {
  return inputs.map((t) => b.input(t.name, t.dtype, t.dims));
}

/** Marks the table's outputs (already defined by nodes under these names) as graph outputs. */
export function declareOutputs(b: GraphBuilder, outputs: readonly TensorDeclaration[]): void {
  for (const t of outputs) b.output(t.name, t.dtype, t.dims);
}

/**
 * The metadata a plug-in's graph records: its architecture, the checkpoint's sha256, what its config
 * records (`recorded`), and the training run id (the build option, else the config's, else '').
 */
export function graphMetadata(
  config: BundleConfig,
  weightsSha256: string,
  options: BuildOptions,
  recorded: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    architecture: config.architecture,
    checkpoint_sha256: weightsSha256,
    ...recorded,
    run_id: options.runId ?? config.runId ?? '',
  };
}
