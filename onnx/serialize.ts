/**
 * The ONNX serializer and reader: IR ⇄ ONNX protobuf bytes. The only module that imports onnx-proto.
 *
 * Writing streams: the model/graph skeleton is encoded with onnx-proto, and each initializer is
 * written as its own length-delimited `GraphProto.initializer` whose `raw_data` bytes are copied in
 * chunks from the tensor's source (a file range, memory, or a lazy loader). Protobuf allows a repeated
 * field to be written piecewise and every length is known up front, so a 786 MB model is never held
 * in memory (not even once). The output is byte-for-byte what `onnx.ModelProto.encode` would produce
 * for the same message, so it is deterministic: attributes sorted by name, metadata sorted by key,
 * nothing time- or randomness-dependent.
 *
 * Reading (serialize-read.ts, re-exported here) never loads `raw_data` payloads.
 *
 * Must not: decide what a valid model is (checker.ts) or build graphs (builder.ts).
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { onnx } from 'onnx-proto';
import type { Attribute, Model, Node, Tensor, TensorData, ValueInfo } from './ir';
import { dataByteLength, expectedByteLength, ONNX_DTYPE_CODES } from './ir';
import { FileTailHasher, TAIL_HASH_MIN_BYTES } from './file-tail-hasher';
import { GRAPH_INITIALIZER, MODEL_GRAPH, TENSOR_RAW_DATA, WIRE_LEN } from './serialize-read';

export { decodeWithOnnxProto, deserializeModel, ModelReadError, readModel } from './serialize-read';

/** Protobuf refuses messages of 2 GiB or more; above this a model must use external data. */
export const PROTOBUF_LIMIT_BYTES = 2 ** 31 - 1;
/** Like onnx's `save_model(size_threshold=1024)`: tiny tensors (shapes, axes) stay inline even with external data. */
export const EXTERNAL_DATA_MIN_TENSOR_BYTES = 1024;
/** Large external tensors start on a 64 KiB boundary (onnx's allocation granularity) so runtimes can mmap them. */
const EXTERNAL_DATA_ALIGN_THRESHOLD = 1024 * 1024;
const EXTERNAL_DATA_ALIGNMENT = 64 * 1024;
/** Copy buffer for file-backed tensors: big enough that syscalls don't matter, small next to the model. */
const COPY_CHUNK_BYTES = 8 * 1024 * 1024;
/** Small protobuf pieces are coalesced before they reach the file. */
const WRITE_BUFFER_BYTES = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Protobuf wire helpers (only what the streaming writer and the scanner need)

// Field numbers from onnx.proto, shared with the reader.
function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** Varint for non-negative lengths up to 2^53 (arithmetic, not bit ops, which stop at 2^31). */
function varint(n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n));
  let i = 0;
  while (n >= 128) {
    out[i++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  out[i] = n;
  return out;
}

function lenFieldHeader(field: number, length: number): Uint8Array {
  const tag = varint(field * 8 + WIRE_LEN);
  const len = varint(length);
  const out = new Uint8Array(tag.length + len.length);
  out.set(tag, 0);
  out.set(len, tag.length);
  return out;
}

function lenFieldSize(field: number, length: number): number {
  return varintLength(field * 8 + WIRE_LEN) + varintLength(length) + length;
}

// ---------------------------------------------------------------------------------------------
// IR → proto (everything except initializer payloads)

function valueInfoProto(v: ValueInfo): onnx.IValueInfoProto {
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
async function loadedTensorProto(t: Tensor): Promise<onnx.ITensorProto> {
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

async function nodeProto(n: Node): Promise<onnx.INodeProto> {
  // Sorted by name: the same graph always gives the same bytes, whatever order attrs were built in.
  const names = Object.keys(n.attributes).sort();
  const attribute: onnx.IAttributeProto[] = [];
  for (const name of names) attribute.push(await attributeProto(name, n.attributes[name] as Attribute));
  const proto: onnx.INodeProto = { input: [...n.inputs], output: [...n.outputs], name: n.name, opType: n.opType, attribute };
  if (n.domain !== '') proto.domain = n.domain;
  return proto;
}

function opsetImports(model: Model): onnx.IOperatorSetIdProto[] {
  const others = Object.entries(model.otherOpsets ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [{ domain: '', version: model.opset }, ...others.map(([domain, version]) => ({ domain, version }))];
}

function metadataProps(model: Pick<Model, 'metadataProps'>): onnx.IStringStringEntryProto[] {
  return Object.keys(model.metadataProps)
    .sort()
    .map((key) => ({ key, value: model.metadataProps[key] as string }));
}

// ---------------------------------------------------------------------------------------------
// Tensor data access

/** Reads a tensor's bytes into memory (for small tensors: attributes, constants, tests). */
export async function readTensorData(data: TensorData): Promise<Uint8Array> {
  switch (data.kind) {
    case 'memory':
      return data.bytes;
    case 'lazy': {
      const bytes = await data.load();
      if (bytes.byteLength !== data.length) {
        throw new Error(`lazy tensor data: loader returned ${bytes.byteLength} bytes, declared ${data.length}`);
      }
      return bytes;
    }
    case 'file': {
      const fh = await open(data.path, 'r');
      try {
        const out = new Uint8Array(data.length);
        let done = 0;
        while (done < data.length) {
          const { bytesRead } = await fh.read(out, done, data.length - done, data.offset + done);
          if (bytesRead === 0) throw new Error(`${data.path}: file ends before byte ${data.offset + data.length} (tensor range ${data.offset}+${data.length})`);
          done += bytesRead;
        }
        return out;
      } finally {
        await fh.close();
      }
    }
  }
}

/**
 * Where serialized bytes go. `write` is done with `chunk` when it resolves; `writeDetached` may keep
 * using `chunk` until the sink's next call resolves, which lets a copy loop read the next chunk and
 * hash this one while the previous one is still being written.
 */
interface Sink {
  write(chunk: Uint8Array): Promise<void>;
  writeDetached(chunk: Uint8Array): Promise<void>;
  /** Resolves when no detached write is in flight (before another sink reuses the copy buffers). */
  drain(): Promise<void>;
}

/**
 * A hashing, buffered output file. Small protobuf pieces are coalesced; big payloads go straight
 * through. A large file is hashed by a FileTailHasher on another thread, which follows the writes.
 */
class HashingFileWriter implements Sink {
  /** The inline hash, for files below TAIL_HASH_MIN_BYTES. */
  private readonly hash: Hash | undefined;
  private readonly buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  private buffered = 0;
  /** The detached write in flight, if any; every other operation waits for it first. */
  private pending: Promise<void> = Promise.resolve();
  /** Bytes handed to write()/writeDetached(). */
  bytes = 0;
  /** Bytes whose write has completed (what the tail hasher may read). */
  private written = 0;

  private constructor(private readonly fh: FileHandle, private readonly tail: FileTailHasher | undefined) {
    this.hash = tail === undefined ? createHash('sha256') : undefined;
  }

  /** Opens `path` for writing; `expectedBytes` (the plan) picks the inline or the tail hash. */
  static async create(path: string, expectedBytes: number): Promise<HashingFileWriter> {
    const fh = await open(path, 'w');
    return new HashingFileWriter(fh, expectedBytes >= TAIL_HASH_MIN_BYTES ? FileTailHasher.start(path) : undefined);
  }

  /** Writes `bytes` at the end of the file, then tells the tail hasher they are there. */
  private async put(bytes: Uint8Array): Promise<void> {
    await writeAll(this.fh, bytes);
    this.written += bytes.byteLength;
    this.tail?.advance(this.written);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.hash?.update(chunk);
    this.bytes += chunk.byteLength;
    if (chunk.byteLength <= this.buffer.length - this.buffered) {
      this.buffer.set(chunk, this.buffered);
      this.buffered += chunk.byteLength;
      return;
    }
    await this.flush();
    if (chunk.byteLength < this.buffer.length) {
      this.buffer.set(chunk, 0);
      this.buffered = chunk.byteLength;
    } else {
      await this.put(chunk);
    }
  }

  async writeDetached(chunk: Uint8Array): Promise<void> {
    this.hash?.update(chunk);
    this.bytes += chunk.byteLength;
    await this.flush();
    this.pending = this.put(chunk);
    // Handled here so a failure is not "unhandled" in the meantime; it is rethrown by the next flush.
    this.pending.catch(() => undefined);
  }

  async drain(): Promise<void> {
    await this.pending;
  }

  async flush(): Promise<void> {
    await this.pending;
    if (this.buffered > 0) await this.put(this.buffer.subarray(0, this.buffered));
    this.buffered = 0;
  }

  async close(): Promise<string> {
    await this.flush();
    // No fsync: it would double the time of a large write, and durability comes from the artifact's
    // sha256 being checked again after upload (a torn local file is caught there and re-emitted).
    await this.fh.close();
    return this.tail !== undefined ? this.tail.digest(this.written) : (this.hash as Hash).digest('hex');
  }

  async abort(): Promise<void> {
    await this.pending.catch(() => undefined);
    await this.tail?.cancel();
    await this.fh.close().catch(() => undefined);
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done);
    done += bytesWritten;
  }
}

/**
 * Copy buffers handed out in rotation. Three suffice: while chunk k is hashed, chunk k+1 is being
 * read and chunk k-1 written; the buffer of chunk k-2 is free because `writeDetached(k-1)` waited for it.
 */
class CopyBuffers {
  private readonly buffers = [0, 1, 2].map(() => Buffer.allocUnsafe(COPY_CHUNK_BYTES));
  private next = 0;
  take(): Buffer {
    const b = this.buffers[this.next] as Buffer;
    this.next = (this.next + 1) % this.buffers.length;
    return b;
  }
}

/** Streams one tensor's bytes into `sink`, checking the source really has the declared length. */
async function copyTensorData(t: Tensor, sink: Sink, files: Map<string, FileHandle>, buffers: CopyBuffers): Promise<void> {
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
  const readChunk = async (at: number): Promise<Uint8Array> => {
    const buf = buffers.take();
    const want = Math.min(buf.length, data.length - at);
    const { bytesRead } = await source.read(buf, 0, want, data.offset + at);
    if (bytesRead === 0) {
      throw new Error(`initializer '${t.name}': ${data.path} ends before byte ${data.offset + data.length} (range ${data.offset}+${data.length})`);
    }
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
// Writing

export interface WriteOptions {
  /**
   * 'auto' (default): self-contained unless the file would pass the 2 GiB protobuf limit;
   * 'always': initializers of 1 KiB or more go to a sidecar file; 'never': fail above the limit.
   */
  readonly externalData?: 'auto' | 'always' | 'never';
  /** Sidecar file name, next to the model (default `<model file name>.data`). */
  readonly externalDataFileName?: string;
  /**
   * metadata_props entries known only later (e.g. an input hash still being computed): they override
   * or add to `model.metadataProps` and are awaited only when the model's tail is written, after the
   * graph (canonical field order puts metadata_props, field 14, after graph, field 7). If it rejects,
   * the write is aborted (nothing is renamed into place) with its error, as soon as it is noticed.
   */
  readonly metadata?: Promise<Readonly<Record<string, string>>>;
}

export interface WrittenFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface WrittenModel extends WrittenFile {
  /** The external data sidecar, when the model has one. */
  readonly externalData?: WrittenFile;
}

interface Plan {
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
    throw new Error(`initializer '${t.name}': ${t.dtype} [${t.dims.join(', ')}] needs ${expected} bytes, its data has ${actual}`);
  }
}

async function plan(model: Model, external: boolean, location: string): Promise<Plan> {
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
function encodeModelTail(model: Model, props: Readonly<Record<string, string>>): Uint8Array {
  return onnx.ModelProto.encode({ opsetImport: opsetImports(model), metadataProps: metadataProps({ ...model, metadataProps: props }) }).finish();
}

/**
 * Writes the model's bytes in the field order onnx-proto itself uses (field-number order; ModelProto:
 * ir_version, producer_*, graph, opset_import, metadata_props; GraphProto: node, name, initializer, input,
 * output, value_info), so the result equals `ModelProto.encode` of the whole message. `tail` gives the
 * model's fields after the graph when they are due (late metadata); `alive` throws to abort early.
 */
async function emit(
  p: Plan,
  sink: Sink,
  externalSink: Sink | undefined,
  tail: () => Promise<Uint8Array> = async () => p.modelTail,
  alive: () => void = () => undefined,
): Promise<void> {
  const files = new Map<string, FileHandle>();
  const buffers = new CopyBuffers();
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

/**
 * Writes `model` to `path` (via `<path>.partial` and a rename, so a crash never leaves a truncated
 * model under the final name; missing parent folders are made) and returns the sha256 of the
 * file(s), hashed while writing.
 */
export async function writeModel(model: Model, path: string, options: WriteOptions = {}): Promise<WrittenModel> {
  const mode = options.externalData ?? 'auto';
  const location = options.externalDataFileName ?? `${basename(path)}.data`;
  if (location.includes('/') || location.includes('\\') || location === basename(path)) {
    throw new Error(`external data file name '${location}' must be a plain file name, different from the model's`);
  }
  let p = await plan(model, mode === 'always', location);
  if (mode === 'auto' && p.totalLength > PROTOBUF_LIMIT_BYTES) p = await plan(model, true, location);
  if (p.totalLength > PROTOBUF_LIMIT_BYTES) {
    throw new Error(
      `${path}: the model would be ${p.totalLength} bytes, over protobuf's 2 GiB limit; write it with external data`,
    );
  }
  const external = p.tensors.some((t) => !t.inline);
  const externalPath = join(dirname(path), location);
  const partial = `${path}.partial`;
  const externalPartial = `${externalPath}.partial`;
  // Late metadata: a rejection aborts the write at the next tensor; the value is awaited only for the tail.
  let failed: { readonly reason: unknown } | undefined;
  options.metadata?.catch((reason: unknown) => {
    failed = { reason };
  });
  const alive = (): void => {
    if (failed !== undefined) throw failed.reason;
  };
  let totalLength = p.totalLength;
  const tail = async (): Promise<Uint8Array> => {
    if (options.metadata === undefined) return p.modelTail;
    const late = await options.metadata;
    const modelTail = encodeModelTail(model, { ...model.metadataProps, ...late });
    totalLength = p.totalLength - p.modelTail.length + modelTail.length;
    if (totalLength > PROTOBUF_LIMIT_BYTES) {
      throw new Error(`${path}: the model would be ${totalLength} bytes, over protobuf's 2 GiB limit; write it with external data`);
    }
    return modelTail;
  };
  await mkdir(dirname(path), { recursive: true });
  const writer = await HashingFileWriter.create(partial, p.totalLength);
  const externalWriter = external ? await HashingFileWriter.create(externalPartial, p.externalLength) : undefined;
  try {
    await emit(p, writer, externalWriter, tail, alive);
  } catch (err) {
    await writer.abort();
    await externalWriter?.abort();
    await rm(partial, { force: true });
    await rm(externalPartial, { force: true });
    throw err;
  }
  const sha256 = await writer.close();
  if (writer.bytes !== totalLength) throw new Error(`internal: wrote ${writer.bytes} bytes, planned ${totalLength}`);
  let externalData: WrittenFile | undefined;
  if (externalWriter !== undefined) {
    const externalSha = await externalWriter.close();
    await rename(externalPartial, externalPath);
    externalData = { path: externalPath, bytes: externalWriter.bytes, sha256: externalSha };
  } else {
    // A previous write of this path may have left a sidecar that no longer belongs to the model.
    await rm(externalPath, { force: true });
  }
  await rename(partial, path);
  return { path, bytes: writer.bytes, sha256, ...(externalData ? { externalData } : {}) };
}

/** Serializes a self-contained model into memory (small models: tests, onnxruntime sessions from bytes). */
export async function serializeModel(model: Model): Promise<Uint8Array> {
  const p = await plan(model, false, '');
  if (p.totalLength > PROTOBUF_LIMIT_BYTES) throw new Error(`model is ${p.totalLength} bytes, over protobuf's 2 GiB limit`);
  const out = new Uint8Array(p.totalLength);
  let at = 0;
  const write = async (chunk: Uint8Array): Promise<void> => {
    out.set(chunk, at);
    at += chunk.byteLength;
  };
  await emit(p, { write, writeDetached: write, drain: async () => undefined }, undefined);
  return out;
}

/** sha256 (hex) of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: COPY_CHUNK_BYTES })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256Bytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

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
