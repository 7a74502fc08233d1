/**
 * The ONNX reader: .onnx bytes → IR. Scans the protobuf wire format itself so `raw_data` payloads are
 * never read: initializers come back as file ranges into the .onnx (or its external data file), the
 * rest is decoded by onnx-proto. Validating a 786 MB model costs kilobytes of memory.
 *
 * Must not: write files or judge validity (checker.ts); it refuses only what the IR cannot represent
 * (non-tensor types, graph attributes, sparse initializers, unknown element types).
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { onnx } from 'onnx-proto';
import type { Attribute, Attributes, DataType, Graph, Model, Node, Tensor, TensorData, ValueInfo } from './ir';
import { dataTypeFromOnnxCode, expectedByteLength } from './ir';
import { messageOf, OnnxIoError, transientReadCode } from './onnx-error';
import { GRAPH_INITIALIZER, MODEL_GRAPH, TENSOR_RAW_DATA, WIRE_LEN } from './protobuf-wire';

// The other protobuf wire types the scanner skips over.
const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_I32 = 5;

function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** A model file this tool cannot represent or that is not a well-formed ONNX protobuf. */
export class ModelReadError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'ModelReadError';
  }
}

/** Random access to the bytes being scanned: a file (windowed positioned reads) or memory. */
interface ByteSource {
  readonly size: number;
  bytesAt(pos: number, length: number): Promise<Uint8Array>;
}

const SCAN_WINDOW_BYTES = 1024 * 1024;

class FileSource implements ByteSource {
  private window = Buffer.alloc(0);
  private windowStart = 0;
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  async bytesAt(pos: number, length: number): Promise<Uint8Array> {
    if (pos >= this.windowStart && pos + length <= this.windowStart + this.window.length) {
      return this.window.subarray(pos - this.windowStart, pos - this.windowStart + length);
    }
    const want = Math.min(Math.max(length, SCAN_WINDOW_BYTES), this.size - pos);
    const buf = Buffer.allocUnsafe(Math.max(want, 0));
    let done = 0;
    while (done < want) {
      const { bytesRead } = await this.fh.read(buf, done, want - done, pos + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    this.window = buf.subarray(0, done);
    this.windowStart = pos;
    return this.window.subarray(0, Math.min(length, done));
  }
}

class MemorySource implements ByteSource {
  readonly size: number;
  constructor(private readonly bytes: Uint8Array) {
    this.size = bytes.byteLength;
  }
  async bytesAt(pos: number, length: number): Promise<Uint8Array> {
    return this.bytes.subarray(pos, pos + length);
  }
}

interface WireField {
  readonly field: number;
  readonly wire: number;
  /** Where the field's encoding starts (its tag) and ends. */
  readonly start: number;
  readonly end: number;
  /** For length-delimited fields: where the payload starts. */
  readonly payload: number;
}

function readVarint(bytes: Uint8Array, at: number, what: () => string): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length && i < at + 10; i++) {
    const b = bytes[i] as number;
    value += (b & 127) * scale;
    scale *= 128;
    if (b < 128) return { value, next: i + 1 };
  }
  throw new Error(`malformed varint in ${what()} at byte ${at}`);
}

/** Lists the fields of the message occupying [start, end) without reading their payloads. */
async function scanFields(src: ByteSource, start: number, end: number, what: string): Promise<WireField[]> {
  const fields: WireField[] = [];
  let pos = start;
  while (pos < end) {
    const head = await src.bytesAt(pos, Math.min(20, end - pos));
    const tag = readVarint(head, 0, () => what);
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    let payload = pos + tag.next;
    let next: number;
    if (wire === WIRE_VARINT) {
      next = pos + readVarint(head, tag.next, () => what).next;
    } else if (wire === WIRE_I64) {
      next = payload + 8;
    } else if (wire === WIRE_I32) {
      next = payload + 4;
    } else if (wire === WIRE_LEN) {
      const len = readVarint(head, tag.next, () => what);
      payload = pos + len.next;
      next = payload + len.value;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire} (field ${field}) in ${what} at byte ${pos}`);
    }
    if (field === 0 || next > end)
      throw new Error(`truncated or corrupt ${what}: field ${field} at byte ${pos} runs past byte ${end}`);
    fields.push({ field, wire, start: pos, end: next, payload });
    pos = next;
  }
  return fields;
}

async function concatFields(src: ByteSource, fields: readonly WireField[]): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const f of fields) parts.push(Uint8Array.from(await src.bytesAt(f.start, f.end - f.start)));
  return Buffer.concat(parts);
}

interface ScannedTensor {
  readonly proto: onnx.TensorProto;
  /** Where raw_data's payload is in the source, if the tensor has raw_data. */
  readonly raw?: { offset: number; length: number };
}

async function scanModel(src: ByteSource): Promise<{ model: onnx.ModelProto; initializers: ScannedTensor[] }> {
  const top = await scanFields(src, 0, src.size, 'ModelProto');
  const graphs = top.filter((f) => f.field === MODEL_GRAPH && f.wire === WIRE_LEN);
  const model = onnx.ModelProto.decode(
    await concatFields(
      src,
      top.filter((f) => !graphs.includes(f)),
    ),
  );
  if (graphs.length !== 1) throw new Error(`expected one ModelProto.graph, found ${graphs.length}`);
  const g = graphs[0] as WireField;
  const graphFields = await scanFields(src, g.payload, g.end, 'GraphProto');
  const inits = graphFields.filter((f) => f.field === GRAPH_INITIALIZER && f.wire === WIRE_LEN);
  model.graph = onnx.GraphProto.decode(
    await concatFields(
      src,
      graphFields.filter((f) => !inits.includes(f)),
    ),
  );
  const initializers: ScannedTensor[] = [];
  for (const init of inits) {
    const tf = await scanFields(src, init.payload, init.end, 'TensorProto');
    const raws = tf.filter((f) => f.field === TENSOR_RAW_DATA && f.wire === WIRE_LEN);
    const proto = onnx.TensorProto.decode(
      await concatFields(
        src,
        tf.filter((f) => !raws.includes(f)),
      ),
    );
    // Protobuf semantics: the last occurrence of a non-repeated field wins.
    const raw = raws[raws.length - 1];
    initializers.push(
      raw === undefined ? { proto } : { proto, raw: { offset: raw.payload, length: raw.end - raw.payload } },
    );
  }
  return { model, initializers };
}

function dtypeOf(code: number, what: string): DataType {
  const dt = dataTypeFromOnnxCode(code);
  if (dt === undefined) {
    const name = onnx.TensorProto.DataType[code] ?? `code ${code}`;
    throw new Error(`${what}: element type ${name} is not supported by this tool`);
  }
  return dt;
}

function valueInfoFromProto(v: onnx.IValueInfoProto): ValueInfo {
  const name = v.name ?? '';
  const tt = v.type?.tensorType;
  if (v.type && !tt) throw new Error(`value '${name}': only tensor types are supported`);
  if (!tt || !tt.elemType) return { name };
  const dtype = dtypeOf(tt.elemType, `value '${name}'`);
  if (!tt.shape) return { name, dtype };
  const shape = (tt.shape.dim ?? []).map((d) =>
    d.dimParam ? d.dimParam : d.dimValue != null ? toNumber(d.dimValue) : '',
  );
  return { name, dtype, shape };
}

/** Typed-field tensor payloads (float_data, int64_data, …) → little-endian raw bytes. */
function typedFieldBytes(p: onnx.ITensorProto, dtype: DataType): Uint8Array | undefined {
  const pack = <T extends { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }>(a: T): Uint8Array =>
    new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (p.floatData?.length) return pack(Float32Array.from(p.floatData));
  if (p.doubleData?.length) return pack(Float64Array.from(p.doubleData));
  if (p.int64Data?.length) return pack(BigInt64Array.from(p.int64Data.map((v) => BigInt(toNumber(v)))));
  if (p.int32Data?.length) {
    const v = p.int32Data;
    switch (dtype) {
      case 'int32':
        return pack(Int32Array.from(v));
      case 'int8':
        return pack(Int8Array.from(v));
      case 'uint8':
      case 'bool':
        return pack(Uint8Array.from(v));
      case 'float16':
      case 'bfloat16':
        return pack(Uint16Array.from(v));
      default:
        return undefined;
    }
  }
  return undefined;
}

function tensorFromProto(
  p: onnx.ITensorProto,
  raw: ScannedTensor['raw'],
  rawSource: 'file' | Uint8Array,
  file: string,
  baseDir: string,
): Tensor {
  const name = p.name ?? '';
  const dtype = dtypeOf(p.dataType ?? 0, `tensor '${name}'`);
  const dims = (p.dims ?? []).map(toNumber);
  let data: TensorData;
  if (p.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const entries = new Map((p.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = entries.get('location');
    if (!location) throw new Error(`tensor '${name}': external data without a location`);
    if (isAbsolute(location) || normalize(location).startsWith('..')) {
      throw new Error(
        `tensor '${name}': external data location '${location}' must be relative and inside the model's directory`,
      );
    }
    const offset = Number(entries.get('offset') ?? '0');
    const length = entries.has('length') ? Number(entries.get('length')) : expectedByteLength(dtype, dims);
    data = { kind: 'file', path: join(baseDir, location), offset, length };
  } else if (raw !== undefined) {
    data =
      rawSource === 'file'
        ? { kind: 'file', path: file, offset: raw.offset, length: raw.length }
        : { kind: 'memory', bytes: rawSource.subarray(raw.offset, raw.offset + raw.length) };
  } else if (p.rawData && p.rawData.length > 0) {
    data = { kind: 'memory', bytes: p.rawData };
  } else {
    data = { kind: 'memory', bytes: typedFieldBytes(p, dtype) ?? new Uint8Array(0) };
  }
  return { name, dtype, dims, data };
}

function attributeFromProto(a: onnx.IAttributeProto, where: string, file: string, baseDir: string): Attribute {
  const T = onnx.AttributeProto.AttributeType;
  const name = a.name ?? '';
  switch (a.type) {
    case T.INT:
      return { type: 'int', value: toNumber(a.i) };
    case T.FLOAT:
      return { type: 'float', value: a.f ?? 0 };
    case T.STRING:
      return { type: 'string', value: Buffer.from(a.s ?? new Uint8Array(0)).toString('utf8') };
    case T.INTS:
      return { type: 'ints', value: (a.ints ?? []).map(toNumber) };
    case T.FLOATS:
      return { type: 'floats', value: [...(a.floats ?? [])] };
    case T.TENSOR:
      if (!a.t) throw new Error(`${where}: attribute '${name}' of type TENSOR has no tensor`);
      return { type: 'tensor', value: tensorFromProto(a.t, undefined, 'file', file, baseDir) };
    default: {
      const typeName = a.type == null ? 'UNDEFINED' : (T[a.type] ?? String(a.type));
      throw new Error(`${where}: attribute '${name}' has type ${typeName}, which this tool does not support`);
    }
  }
}

function modelFromProto(
  m: onnx.ModelProto,
  initializers: ScannedTensor[],
  rawSource: 'file' | Uint8Array,
  file: string,
): Model {
  const baseDir = dirname(file);
  const g = m.graph;
  if (!g) throw new Error('the model has no graph');
  if ((g.sparseInitializer ?? []).length > 0) throw new Error('sparse initializers are not supported');
  let opset: number | undefined;
  const otherOpsets: Record<string, number> = {};
  for (const o of m.opsetImport) {
    if (!o.domain || o.domain === 'ai.onnx') opset = toNumber(o.version);
    else otherOpsets[o.domain] = toNumber(o.version);
  }
  if (opset === undefined) throw new Error('the model imports no ai.onnx opset');
  const nodes: Node[] = (g.node ?? []).map((n, i) => {
    const where = `node '${n.name || `#${i}`}' (${n.opType ?? '?'})`;
    const attrs = n.attribute ?? [];
    if (attrs.some((a) => a.refAttrName)) throw new Error(`${where}: attribute references are only valid in functions`);
    const attributes: Record<string, Attribute> = {};
    for (const a of attrs) attributes[a.name ?? ''] = attributeFromProto(a, where, file, baseDir);
    return {
      name: n.name ?? '',
      opType: n.opType ?? '',
      domain: n.domain === 'ai.onnx' ? '' : (n.domain ?? ''),
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attributes: attributes as Attributes,
    };
  });
  const graph: Graph = {
    name: g.name ?? '',
    inputs: (g.input ?? []).map(valueInfoFromProto),
    outputs: (g.output ?? []).map(valueInfoFromProto),
    initializers: initializers.map((s) => tensorFromProto(s.proto, s.raw, rawSource, file, baseDir)),
    nodes,
    valueInfo: (g.valueInfo ?? []).map(valueInfoFromProto),
  };
  const metadata: Record<string, string> = {};
  for (const e of m.metadataProps) metadata[e.key ?? ''] = e.value ?? '';
  return {
    opset,
    ...(Object.keys(otherOpsets).length > 0 ? { otherOpsets } : {}),
    irVersion: toNumber(m.irVersion),
    producerName: m.producerName ?? '',
    producerVersion: m.producerVersion ?? '',
    graph,
    metadataProps: metadata,
  };
}

/**
 * Reads an .onnx file. Initializer payloads are not read: they become file ranges into the model
 * file (or its external data files, resolved next to it), so validating a 786 MB model costs kilobytes.
 * A file that cannot be opened or is not a model we can represent is a ModelReadError (final); a
 * disk that fails under the read after it opened (EIO, say) is an OnnxIoError (transient).
 */
export async function readModel(path: string): Promise<Model> {
  const fh = await open(path, 'r').catch((err: unknown) => {
    throw new ModelReadError(path, err instanceof Error ? err.message : String(err));
  });
  try {
    const { size } = await fh.stat();
    const { model, initializers } = await scanModel(new FileSource(fh, size));
    return modelFromProto(model, initializers, 'file', path);
  } catch (err) {
    if (err instanceof ModelReadError) throw err;
    // The file opened, then the disk failed under the read (EIO, too many open files): not the model's fault.
    const code = transientReadCode(err);
    if (code !== undefined) throw new OnnxIoError({ file: path, code }, `${path}: ${messageOf(err)}`, { cause: err });
    throw new ModelReadError(path, messageOf(err));
  } finally {
    await fh.close();
  }
}

/**
 * Decodes model bytes already in memory; initializers become views of `bytes`. `file` names the
 * model in errors and locates external data (default: relative to the working directory).
 */
export async function deserializeModel(bytes: Uint8Array, file = 'model.onnx'): Promise<Model> {
  try {
    const { model, initializers } = await scanModel(new MemorySource(bytes));
    return modelFromProto(model, initializers, bytes, file);
  } catch (err) {
    throw new ModelReadError(file, err instanceof Error ? err.message : String(err));
  }
}

/** Decodes with onnx-proto alone (the reference decoder), as plain JSON-able objects; for tests and debugging. */
export function decodeWithOnnxProto(bytes: Uint8Array): Record<string, unknown> {
  return onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), {
    longs: Number,
    bytes: Array,
    defaults: false,
  }) as Record<string, unknown>;
}
