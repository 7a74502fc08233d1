/**
 * A model's signature: its named, typed inputs and outputs with their symbolic dimensions, read from
 * the graph itself. It is the contract every stage after emission follows: parity feeds the reference
 * cases by these names, the benchmark and int8 calibration build their feeds from it, the MLmodel
 * records it, the result and the CLI show it. Nothing here names a particular model's tensors.
 * Imported by workflow code: types and pure functions only.
 */

/**
 * Element types a signature tensor may have. float32, int64 (ids) and bool (masks) are fed and
 * compared; float16 is reserved: a graph may declare it, but no stage feeds or compares it yet.
 */
export const SIGNATURE_DTYPES = ['float32', 'int64', 'bool', 'float16'] as const;
export type SignatureDtype = (typeof SIGNATURE_DTYPES)[number];

/** A dimension as the graph declares it: a fixed size, or a symbolic dimension's name (`batch_size`, `receivers`, `seq_len`). */
export type SignatureDim = number | string;

/** One graph input or output as MLflow's tensor-spec signature records it: -1 for a symbolic axis. */
export interface TensorSpec {
  name: string;
  /** One of SIGNATURE_DTYPES in every signature read from a graph (onnx/graph-signature refuses others). */
  dtype: string;
  shape: number[];
}

/**
 * The graph's inputs and outputs, in graph order (consumers read outputs by position). The first
 * axis of every input and output is the batch.
 */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /**
   * Each tensor's dimensions as the graph declares them, by tensor name: the symbolic ones by name
   * (`{"iq_data": ["batch_size", "receivers", 2, "seq_len"]}`), where `shape` has -1. An unnamed
   * symbolic dimension is `''`. Absent from signatures recorded before it existed (their exports'
   * histories and results): read it through `tensorDims`.
   */
  dims?: Record<string, SignatureDim[]>;
}

export function isSignatureDtype(value: string): value is SignatureDtype {
  return (SIGNATURE_DTYPES as readonly string[]).includes(value);
}

/** A tensor's dimensions as the graph declares them (an older signature's -1 stands for an unnamed symbolic one). */
export function tensorDims(signature: ModelSignature, t: TensorSpec): SignatureDim[] {
  return signature.dims?.[t.name] ?? t.shape.map((d) => (d === -1 ? '' : d));
}

/** The named symbolic dimensions of a signature, in order of first appearance (inputs first). */
export function symbolicDimNames(signature: ModelSignature): string[] {
  const names: string[] = [];
  for (const t of [...signature.inputs, ...signature.outputs]) {
    for (const d of tensorDims(signature, t)) {
      if (typeof d === 'string' && d !== '' && !names.includes(d)) names.push(d);
    }
  }
  return names;
}

/** A tensor's shape as text, symbolic dimensions by name: `iq_data float32 [batch_size, receivers, 2, seq_len]`. */
export function describeTensor(signature: ModelSignature, t: TensorSpec): string {
  const dims = tensorDims(signature, t);
  return `${t.name} ${t.dtype} [${dims.map((d) => (d === '' ? '?' : String(d))).join(', ')}]`;
}
