/**
 * The reference encoder for tests: a fully loaded model encoded with onnx-proto in one piece, to
 * compare the streaming encoder (onnx/encode.ts) against. Test-only: it holds every tensor in memory.
 */
import { onnx } from 'onnx-proto';
import { loadedTensorProto, metadataProps, nodeProto, opsetImports, valueInfoProto } from '../../onnx/encode';
import type { Model } from '../../onnx/ir';

/** Encodes a fully loaded model with onnx-proto in one piece (the reference encoder), for tests. */
export async function encodeWithOnnxProto(model: Model): Promise<Uint8Array> {
  const g = model.graph;
  const node: onnx.INodeProto[] = [];
  for (const n of g.nodes) node.push(await nodeProto(n));
  const initializer: onnx.ITensorProto[] = [];
  for (const t of g.initializers) initializer.push(await loadedTensorProto(t));
  return onnx.ModelProto.encode({
    irVersion: model.irVersion,
    opsetImport: opsetImports(model),
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    graph: {
      node,
      name: g.name,
      initializer,
      input: g.inputs.map(valueInfoProto),
      output: g.outputs.map(valueInfoProto),
      valueInfo: g.valueInfo.map(valueInfoProto),
    },
    metadataProps: metadataProps(model),
  }).finish();
}
