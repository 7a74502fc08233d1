/**
 * The ONNX intermediate representation: plain, immutable data describing a model (values, nodes,
 * graph, tensors). Everything else in onnx/ (builder, encoder, writer, reader, checker, shape
 * inference) works on these types.
 *
 * Must not: import protobuf (it holds the TensorProto element type codes as plain numbers; encode.ts and
 * serialize-read.ts do the protobuf), do I/O, or hold
 * tensor bytes it was not given — tensor data is a reference (memory, file range, or lazy) so a graph
 * of a 786 MB model costs a few kilobytes until it is written.
 */

import { OnnxInputError } from './onnx-error';

/** Element types we read and write. Byte order of raw data is always little-endian (ONNX raw_data). */
export type DataType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

const DTYPE_BYTES: Readonly<Record<DataType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export const DATA_TYPES: readonly DataType[] = Object.keys(DTYPE_BYTES) as DataType[];

/** Size of one element of `dtype` in bytes. */
export function dtypeByteSize(dtype: DataType): number {
  return DTYPE_BYTES[dtype];
}

/**
 * ONNX `TensorProto.DataType` numbers. They are part of the ONNX format, not of protobuf: the IR needs
 * them for Cast's `to` attribute, the serializer for every tensor, so they live in one table here.
 */
export const ONNX_DTYPE_CODES: Readonly<Record<DataType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

export function dataTypeFromOnnxCode(code: number): DataType | undefined {
  for (const dt of DATA_TYPES) if (ONNX_DTYPE_CODES[dt] === code) return dt;
  return undefined;
}

export function isDataType(value: string): value is DataType {
  return Object.prototype.hasOwnProperty.call(DTYPE_BYTES, value);
}

/**
 * One dimension: a number is static; a string is symbolic (`'batch_size'`). The empty string is an
 * unknown, unnamed dimension (ONNX `TensorShapeProto.Dimension` with neither field set).
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

/**
 * A typed value (graph input, output, or intermediate annotation). `dtype`/`shape` are optional only
 * because files read from disk may omit them; the checker reports graph inputs/outputs without them.
 */
export interface ValueInfo {
  readonly name: string;
  readonly dtype?: DataType;
  readonly shape?: Shape;
}

/** Where a tensor's bytes are; never read during graph construction. */
export type TensorData =
  /** Little-endian raw bytes already in memory. */
  | { readonly kind: 'memory'; readonly bytes: Uint8Array }
  /** A byte range of a file, e.g. one tensor of a `.safetensors` file or an ONNX external data file. */
  | { readonly kind: 'file'; readonly path: string; readonly offset: number; readonly length: number }
  /** Computed on demand (e.g. BatchNorm folded into a Linear); `length` must be known up front. */
  | { readonly kind: 'lazy'; readonly length: number; load(): Promise<Uint8Array> };

export interface Tensor {
  readonly name: string;
  readonly dtype: DataType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

/** Number of elements of a static shape (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Byte length a tensor of `dtype` and `dims` must have. */
export function expectedByteLength(dtype: DataType, dims: readonly number[]): number {
  return elementCount(dims) * dtypeByteSize(dtype);
}

/** Byte length of the data a tensor actually references. */
export function dataByteLength(data: TensorData): number {
  return data.kind === 'memory' ? data.bytes.byteLength : data.length;
}

export type Attribute =
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'tensor'; readonly value: Tensor };

export type AttributeType = Attribute['type'];
export type Attributes = Readonly<Record<string, Attribute>>;

/** Attribute constructors, so call sites say which ONNX attribute type they mean (1 vs 1.0). */
export const attr = {
  int: (value: number): Attribute => ({ type: 'int', value }),
  float: (value: number): Attribute => ({ type: 'float', value }),
  string: (value: string): Attribute => ({ type: 'string', value }),
  ints: (value: readonly number[]): Attribute => ({ type: 'ints', value }),
  floats: (value: readonly number[]): Attribute => ({ type: 'floats', value }),
  tensor: (value: Tensor): Attribute => ({ type: 'tensor', value }),
} as const;

export interface Node {
  /** Module path + op, e.g. `backbone.0.1.0.block.0/Conv`: a parity failure points at a PyTorch module. */
  readonly name: string;
  readonly opType: string;
  /** '' is the default ONNX domain (ai.onnx). */
  readonly domain: string;
  /** '' marks an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Attributes;
}

export interface Graph {
  readonly name: string;
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
  /** Initializer names follow the PyTorch state_dict keys where there is one. */
  readonly initializers: readonly Tensor[];
  readonly nodes: readonly Node[];
  /** Optional annotations of intermediate values. */
  readonly valueInfo: readonly ValueInfo[];
}

export interface Model {
  /** Version of the default (ai.onnx) operator set. */
  readonly opset: number;
  /** Other operator set imports by domain (none in what we emit). */
  readonly otherOpsets?: Readonly<Record<string, number>>;
  readonly irVersion: number;
  readonly producerName: string;
  readonly producerVersion: string;
  readonly graph: Graph;
  readonly metadataProps: Readonly<Record<string, string>>;
}

/**
 * ai.onnx opset → the IR version the ONNX release that introduced it wrote (onnx/helper.py
 * VERSION_TABLE). Deriving it instead of taking the newest keeps older runtimes able to load us.
 */
export const IR_VERSION_BY_OPSET: Readonly<Record<number, number>> = {
  13: 7,
  14: 7,
  15: 8,
  16: 8,
  17: 8,
  18: 8,
  19: 9,
  20: 9,
  21: 10,
  22: 10,
  23: 11,
};

export function irVersionForOpset(opset: number): number {
  const ir = IR_VERSION_BY_OPSET[opset];
  if (ir === undefined) {
    const known = Object.keys(IR_VERSION_BY_OPSET).join(', ');
    throw new OnnxInputError(
      'graph',
      { subject: 'opset', expected: `one of ${known}`, actual: String(opset) },
      `opset ${opset} is not supported: known opsets are ${known}`,
    );
  }
  return ir;
}

/** Convenience constructors for tensor data. */
export function memoryTensor(name: string, dtype: DataType, dims: readonly number[], bytes: Uint8Array): Tensor {
  return { name, dtype, dims: [...dims], data: { kind: 'memory', bytes } };
}

export function float32Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): Tensor {
  const arr = Float32Array.from(values);
  return memoryTensor(name, 'float32', dims, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
}

export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): Tensor {
  const arr = BigInt64Array.from(values.map((v) => BigInt(v)));
  return memoryTensor(name, 'int64', dims, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
}

export function fileTensor(
  name: string,
  dtype: DataType,
  dims: readonly number[],
  path: string,
  offset: number,
  length: number,
): Tensor {
  return { name, dtype, dims: [...dims], data: { kind: 'file', path, offset, length } };
}

export function lazyTensor(
  name: string,
  dtype: DataType,
  dims: readonly number[],
  load: () => Promise<Uint8Array>,
): Tensor {
  return { name, dtype, dims: [...dims], data: { kind: 'lazy', length: expectedByteLength(dtype, dims), load } };
}

/** `[batch_size, 3, 128, 32]` — for messages. */
export function formatShape(shape: Shape | undefined): string {
  if (shape === undefined) return '(no shape)';
  return `[${shape.map((d) => (d === '' ? '?' : String(d))).join(', ')}]`;
}
