/**
 * The ONNX encoder: IR → ONNX protobuf bytes, streamed into a Sink (write-model.ts's file writer, or
 * memory for `serializeModel`). With serialize-read.ts the only code that imports onnx-proto.
 *
 * The model/graph skeleton is encoded with onnx-proto, and each initializer is written as its own
 * length-delimited `GraphProto.initializer` whose `raw_data` bytes are copied in chunks from the
 * tensor's source (tensor-bytes.ts). Protobuf allows a repeated field to be written piecewise and
 * every length is known up front, so a 786 MB model is never held in memory (not even once). The
 * output is byte-for-byte what `onnx.ModelProto.encode` would produce for the same message, so it is
 * deterministic: attributes sorted by name, metadata sorted by key, nothing time- or randomness-dependent.
 *
 * Must not: open output files (write-model.ts), decide what a valid model is (checker.ts) or build
 * graphs (builder.ts). What it refuses is an OnnxInputError (onnx-error.ts).
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { onnx } from 'onnx-proto';
import type { Attribute, Model, Node, Tensor, ValueInfo } from './ir';
import { dataByteLength, expectedByteLength, ONNX_DTYPE_CODES } from './ir';
import { GRAPH_INITIALIZER, lenFieldHeader, lenFieldSize, MODEL_GRAPH, TENSOR_RAW_DATA } from './protobuf-wire';
import { OnnxInputError } from './onnx-error';
import { fileEndsEarly, readTensorChunk, readTensorChunkSync, readTensorData } from './tensor-bytes';
import { atWriteBoundary } from './write-boundary';

/** Protobuf refuses messages of 2 GiB or more; above this a model must use external data. */
export const PROTOBUF_LIMIT_BYTES = 2 ** 31 - 1;
/** Like onnx's `save_model(size_threshold=1024)`: tiny tensors (shapes, axes) stay inline even with external data. */
export const EXTERNAL_DATA_MIN_TENSOR_BYTES = 1024;
/** Large external tensors start on a 64 KiB boundary (onnx's allocation granularity) so runtimes can mmap them. */
const EXTERNAL_DATA_ALIGN_THRESHOLD = 1024 * 1024;
const EXTERNAL_DATA_ALIGNMENT = 64 * 1024;
/** Copy buffer for file-backed tensors: big enough that syscalls don't matter, small next to the model. */
const COPY_CHUNK_BYTES = 8 * 1024 * 1024;
/**
 * Small protobuf pieces are coalesced in a buffer of this size before they reach a file (write-model.ts);
 * an in-memory payload at least this big is handed to the sink detached instead.
 */
export const WRITE_BUFFER_BYTES = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// IR → proto (everything except initializer payloads; test/'s reference encoder reuses these)

export function valueInfoProto(v: ValueInfo): onnx.IValueInfoProto {
  if (v.dtype === undefined) return { name: v.name };
  const tensorType: onnx.TypeProto.ITensor = { elemType: ONNX_DTYPE_CODES[v.dtype] };
  if (v.shape !== undefined) {
    tensorType.shape = {
      dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : d === '' ? {} : { dimParam: d })),
    };
  }
  return { name: v.name, type: { tensorType } };
}

function tensorHeaderProto(t: Tensor): onnx.ITensorProto {
  return { dims: [...t.dims], dataType: ONNX_DTYPE_CODES[t.dtype], name: t.name };
}

/** Attribute tensors (Constant values) are small and encoded inline, so their bytes are loaded first. */
export async function loadedTensorProto(t: Tensor): Promise<onnx.ITensorProto> {
  return { ...tensorHeaderProto(t), rawData: await readTensorData(t.data) };
}

async function attributeProto(name: string, a: Attribute): Promise<onnx.IAttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'string':
      return { name, type: T.STRING, s: Buffer.from(a.value, 'utf8') };
    case 'ints':
      return { name, type: T.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.value] };
    case 'tensor':
      return { name, type: T.TENSOR, t: await loadedTensorProto(a.value) };
  }
}

/** A node, with the bytes of its attribute tensors loaded from wherever they are. */
export async function nodeProto(n: Node): Promise<onnx.INodeProto> {
  // Sorted by name: the same graph always gives the same bytes, whatever order attrs were built in.
  const names = Object.keys(n.attributes).sort();
  const attribute: onnx.IAttributeProto[] = [];
  for (const name of names) attribute.push(await attributeProto(name, n.attributes[name] as Attribute));
  const proto: onnx.INodeProto = {
    input: [...n.inputs],
    output: [...n.outputs],
    name: n.name,
    opType: n.opType,
    attribute,
  };
  if (n.domain !== '') proto.domain = n.domain;
  return proto;
}

export function opsetImports(model: Model): onnx.IOperatorSetIdProto[] {
  const others = Object.entries(model.otherOpsets ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [{ domain: '', version: model.opset }, ...others.map(([domain, version]) => ({ domain, version }))];
}

export function metadataProps(model: Pick<Model, 'metadataProps'>): onnx.IStringStringEntryProto[] {
  return Object.keys(model.metadataProps)
    .sort()
    .map((key) => ({ key, value: model.metadataProps[key] as string }));
}

// ---------------------------------------------------------------------------------------------
// Streaming the bytes

/**
 * Where serialized bytes go. `write` is done with `chunk` when it resolves; `writeDetached` may keep
 * using `chunk` until the sink's next call resolves, which lets a copy loop read the next chunk and
 * hash this one while the previous one is still being written.
 */
export interface Sink {
  write(chunk: Uint8Array): Promise<void>;
  writeDetached(chunk: Uint8Array): Promise<void>;
  /** Resolves when no detached write is in flight (before another sink reuses the copy buffers). */
  drain(): Promise<void>;
}

/**
 * Copy buffers handed out in rotation. Three suffice: while chunk k is hashed, chunk k+1 is being
 * read and chunk k-1 written; the buffer of chunk k-2 is free because `writeDetached(k-1)` waited for it.
 * Small tensors get a buffer of their own (`forSmall`), outside the rotation: their `write` does not
 * wait for a detached write, so a rotated buffer could still be on its way to the file.
 */
class CopyBuffers {
  private readonly buffers: Buffer[] = [];
  private next = 0;
  private small: Buffer | undefined;
  /** `size`: COPY_CHUNK_BYTES, or the largest file-backed tensor when smaller (each buffer is made when first taken). */
  constructor(private readonly size: number) {}
  take(): Buffer {
    const b = (this.buffers[this.next] ??= Buffer.allocUnsafe(this.size));
    this.next = (this.next + 1) % 3;
    return b;
  }
  /** The one buffer for tensors under WRITE_BUFFER_BYTES; free again once `write` resolves. */
  forSmall(): Buffer {
    return (this.small ??= Buffer.allocUnsafe(Math.min(this.size, WRITE_BUFFER_BYTES)));
  }
}

/** Streams one tensor's bytes into `sink`, checking the source really has the declared length. */
async function copyTensorData(
  t: Tensor,
  sink: Sink,
  files: Map<string, FileHandle>,
  buffers: CopyBuffers,
): Promise<void> {
  const data = t.data;
  if (data.kind !== 'file') {
    const bytes = await readTensorData(data);
    // A big in-memory payload (a fold) goes straight to the file, no copy into the write buffer.
    await (bytes.byteLength >= WRITE_BUFFER_BYTES ? sink.writeDetached(bytes) : sink.write(bytes));
    return;
  }
  let fh = files.get(data.path);
  if (fh === undefined) {
    fh = await open(data.path, 'r');
    files.set(data.path, fh);
  }
  const source = fh;
  if (data.length < WRITE_BUFFER_BYTES) {
    // A small tensor is read at once, synchronously (a thread-pool round trip costs more), and coalesced.
    const buf = buffers.forSmall();
    const bytesRead = readTensorChunkSync(source, data, buf);
    if (bytesRead < data.length) throw fileEndsEarly(data, data.offset + bytesRead, `initializer '${t.name}'`);
    await sink.write(buf.subarray(0, data.length));
    return;
  }
  const readChunk = async (at: number): Promise<Uint8Array> => {
    const buf = buffers.take();
    const bytesRead = await readTensorChunk(source, data, at, buf);
    if (bytesRead === 0) throw fileEndsEarly(data, data.offset + at, `initializer '${t.name}'`);
    return buf.subarray(0, bytesRead);
  };
  let done = 0;
  let reading = data.length > 0 ? readChunk(0) : undefined;
  while (reading !== undefined) {
    const chunk = await reading;
    done += chunk.byteLength;
    reading = done < data.length ? readChunk(done) : undefined;
    // The next read runs while this chunk is written; mark it handled now so a read error that
    // arrives before we await it is not an unhandled rejection (it is still thrown when awaited).
    reading?.catch(() => undefined);
    try {
      await sink.writeDetached(chunk);
    } catch (err) {
      await reading?.catch(() => undefined);
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The plan: every length is known before the first byte is written

export interface Plan {
  readonly modelHead: Uint8Array;
  readonly modelTail: Uint8Array;
  readonly graphHead: Uint8Array;
  readonly graphTail: Uint8Array;
  readonly graphLength: number;
  readonly totalLength: number;
  /** Per initializer: the TensorProto without payload, and where its bytes go. */
  readonly tensors: readonly { tensor: Tensor; header: Uint8Array; inline: boolean }[];
  readonly externalLength: number;
}

function checkDataLength(t: Tensor): void {
  const expected = expectedByteLength(t.dtype, t.dims);
  const actual = dataByteLength(t.data);
  if (expected !== actual) {
    // Writing it would make the length prefixes lie; the checker reports the same as a model problem.
    throw new OnnxInputError(
      'data',
      { subject: `initializer '${t.name}'`, expected: `${expected} bytes`, actual: `${actual} bytes` },
      `initializer '${t.name}': ${t.dtype} [${t.dims.join(', ')}] needs ${expected} bytes, its data has ${actual}`,
    );
  }
}

export async function plan(model: Model, external: boolean, location: string): Promise<Plan> {
  const g = model.graph;
  const node: onnx.INodeProto[] = [];
  for (const n of g.nodes) node.push(await nodeProto(n));
  const graphHead = onnx.GraphProto.encode({ node, name: g.name }).finish();
  const graphTail = onnx.GraphProto.encode({
    input: g.inputs.map(valueInfoProto),
    output: g.outputs.map(valueInfoProto),
    valueInfo: g.valueInfo.map(valueInfoProto),
  }).finish();

  let graphLength = graphHead.length + graphTail.length;
  let externalLength = 0;
  const tensors: { tensor: Tensor; header: Uint8Array; inline: boolean }[] = [];
  for (const t of g.initializers) {
    checkDataLength(t);
    const length = dataByteLength(t.data);
    const inline = !external || length < EXTERNAL_DATA_MIN_TENSOR_BYTES;
    let header: Uint8Array;
    if (inline) {
      header = onnx.TensorProto.encode(tensorHeaderProto(t)).finish();
      graphLength += lenFieldSize(GRAPH_INITIALIZER, header.length + lenFieldSize(TENSOR_RAW_DATA, length));
    } else {
      if (length >= EXTERNAL_DATA_ALIGN_THRESHOLD) {
        externalLength = Math.ceil(externalLength / EXTERNAL_DATA_ALIGNMENT) * EXTERNAL_DATA_ALIGNMENT;
      }
      header = onnx.TensorProto.encode({
        ...tensorHeaderProto(t),
        externalData: [
          { key: 'location', value: location },
          { key: 'offset', value: String(externalLength) },
          { key: 'length', value: String(length) },
        ],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      }).finish();
      externalLength += length;
      graphLength += lenFieldSize(GRAPH_INITIALIZER, header.length);
    }
    tensors.push({ tensor: t, header, inline });
  }

  const modelHead = onnx.ModelProto.encode({
    irVersion: model.irVersion,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
  }).finish();
  const modelTail = encodeModelTail(model, model.metadataProps);
  const totalLength = modelHead.length + lenFieldSize(MODEL_GRAPH, graphLength) + modelTail.length;
  return { modelHead, modelTail, graphHead, graphTail, graphLength, totalLength, tensors, externalLength };
}

/** The fields after the graph: opset_import (8) and metadata_props (14). */
export function encodeModelTail(model: Model, props: Readonly<Record<string, string>>): Uint8Array {
  return onnx.ModelProto.encode({
    opsetImport: opsetImports(model),
    metadataProps: metadataProps({ ...model, metadataProps: props }),
  }).finish();
}

/**
 * Writes the model's bytes in the field order onnx-proto itself uses (field-number order; ModelProto:
 * ir_version, producer_*, graph, opset_import, metadata_props; GraphProto: node, name, initializer, input,
 * output, value_info), so the result equals `ModelProto.encode` of the whole message. `tail` gives the
 * model's fields after the graph when they are due (late metadata); `alive` throws to abort early.
 */
export async function emit(
  p: Plan,
  sink: Sink,
  externalSink: Sink | undefined,
  tail: () => Promise<Uint8Array> = async () => p.modelTail,
  alive: () => void = () => undefined,
): Promise<void> {
  const files = new Map<string, FileHandle>();
  let largest = 1;
  for (const { tensor } of p.tensors) if (tensor.data.kind === 'file') largest = Math.max(largest, tensor.data.length);
  const buffers = new CopyBuffers(Math.min(COPY_CHUNK_BYTES, largest));
  // The copy buffers rotate across both sinks; switching sinks waits for the other's last write.
  let lastCopy: Sink | undefined;
  const copy = async (tensor: Tensor, to: Sink): Promise<void> => {
    if (lastCopy !== undefined && lastCopy !== to) await lastCopy.drain();
    lastCopy = to;
    await copyTensorData(tensor, to, files, buffers);
  };
  try {
    await sink.write(p.modelHead);
    await sink.write(lenFieldHeader(MODEL_GRAPH, p.graphLength));
    await sink.write(p.graphHead);
    let externalOffset = 0;
    for (const { tensor, header, inline } of p.tensors) {
      alive();
      const length = dataByteLength(tensor.data);
      if (inline) {
        await sink.write(lenFieldHeader(GRAPH_INITIALIZER, header.length + lenFieldSize(TENSOR_RAW_DATA, length)));
        await sink.write(header);
        await sink.write(lenFieldHeader(TENSOR_RAW_DATA, length));
        await copy(tensor, sink);
      } else {
        if (externalSink === undefined) throw new Error('internal: external tensor without an external data file');
        await sink.write(lenFieldHeader(GRAPH_INITIALIZER, header.length));
        await sink.write(header);
        if (length >= EXTERNAL_DATA_ALIGN_THRESHOLD) {
          const aligned = Math.ceil(externalOffset / EXTERNAL_DATA_ALIGNMENT) * EXTERNAL_DATA_ALIGNMENT;
          if (aligned > externalOffset) await externalSink.write(new Uint8Array(aligned - externalOffset));
          externalOffset = aligned;
        }
        await copy(tensor, externalSink);
        externalOffset += length;
      }
    }
    await sink.write(p.graphTail);
    await sink.write(await tail());
  } finally {
    for (const fh of files.values()) await fh.close();
  }
}

/** A model of `bytes` bytes, which protobuf cannot hold in one message; `advice` says what to do instead. */
export function overProtobufLimit(bytes: number, advice?: string): OnnxInputError {
  return new OnnxInputError(
    'data',
    { subject: 'model', expected: `at most ${PROTOBUF_LIMIT_BYTES} bytes`, actual: `${bytes} bytes` },
    `model is ${bytes} bytes, over protobuf's 2 GiB limit${advice ? `; ${advice}` : ''}`,
  );
}

/**
 * Serializes a self-contained model into memory (small models: tests, bench/'s probe model,
 * onnxruntime sessions from bytes). Errors as write-boundary.ts says, without an output file.
 */
export async function serializeModel(model: Model): Promise<Uint8Array> {
  return atWriteBoundary(model, undefined, async (watched) => {
    const p = await plan(watched, false, '');
    if (p.totalLength > PROTOBUF_LIMIT_BYTES) throw overProtobufLimit(p.totalLength);
    const out = new Uint8Array(p.totalLength);
    let at = 0;
    const write = async (chunk: Uint8Array): Promise<void> => {
      out.set(chunk, at);
      at += chunk.byteLength;
    };
    await emit(p, { write, writeDetached: write, drain: async () => undefined }, undefined);
    return out;
  });
}

/**
 * Serializes a model into memory with its file-range initializers left where they are: each one whose
 * file `locationOf` names becomes an external-data reference (that location, the range's own offset and
 * length), the rest (and any under EXTERNAL_DATA_MIN_TENSOR_BYTES) are inline. For a slice of a large graph run from a folder beside the original
 * (diagnose/'s segments): the slice costs kilobytes, and its weights are never copied.
 */
export async function serializeModelReferencingFiles(
  model: Model,
  locationOf: (path: string) => string | undefined,
): Promise<Uint8Array> {
  return atWriteBoundary(model, undefined, async (watched) => {
    const g = watched.graph;
    const node: onnx.INodeProto[] = [];
    for (const n of g.nodes) node.push(await nodeProto(n));
    const initializer: onnx.ITensorProto[] = [];
    for (const t of g.initializers) {
      checkDataLength(t);
      // Small tensors (shapes, axes) stay inline, as the writer keeps them: runtimes read them during shape inference.
      const referenced = t.data.kind === 'file' && t.data.length >= EXTERNAL_DATA_MIN_TENSOR_BYTES;
      const location = referenced ? locationOf(t.data.path) : undefined;
      if (t.data.kind === 'file' && location !== undefined) {
        initializer.push({
          ...tensorHeaderProto(t),
          externalData: [
            { key: 'location', value: location },
            { key: 'offset', value: String(t.data.offset) },
            { key: 'length', value: String(t.data.length) },
          ],
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        });
      } else initializer.push(await loadedTensorProto(t));
    }
    const bytes = onnx.ModelProto.encode({
      irVersion: watched.irVersion,
      producerName: watched.producerName,
      producerVersion: watched.producerVersion,
      graph: {
        node,
        name: g.name,
        initializer,
        input: g.inputs.map(valueInfoProto),
        output: g.outputs.map(valueInfoProto),
        valueInfo: g.valueInfo.map(valueInfoProto),
      },
      opsetImport: opsetImports(watched),
      metadataProps: metadataProps(watched),
    }).finish();
    if (bytes.byteLength > PROTOBUF_LIMIT_BYTES) throw overProtobufLimit(bytes.byteLength);
    return bytes;
  });
}
