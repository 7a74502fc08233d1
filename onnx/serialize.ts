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
 * Reading scans the protobuf wire format itself so `raw_data` payloads are never read: initializers
 * come back as file ranges into the .onnx (or its external data file), the rest is decoded by onnx-proto.
 *
 * Must not: decide what a valid model is (checker.ts) or build graphs (builder.ts).
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { onnx } from 'onnx-proto';
import type { Attribute, Attributes, DataType, Graph, Model, Node, Tensor, TensorData, ValueInfo } from './ir';
import { dataByteLength, dataTypeFromOnnxCode, expectedByteLength, ONNX_DTYPE_CODES } from './ir';

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

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;

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

function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

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

function metadataProps(model: Model): onnx.IStringStringEntryProto[] {
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

/** A hashing, buffered output file. Small protobuf pieces are coalesced; big payloads go straight through. */
class HashingFileWriter implements Sink {
  private readonly hash: Hash = createHash('sha256');
  private readonly buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  private buffered = 0;
  /** The detached write in flight, if any; every other operation waits for it first. */
  private pending: Promise<void> = Promise.resolve();
  bytes = 0;

  private constructor(private readonly fh: FileHandle) {}

  static async create(path: string): Promise<HashingFileWriter> {
    return new HashingFileWriter(await open(path, 'w'));
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.hash.update(chunk);
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
      await writeAll(this.fh, chunk);
    }
  }

  async writeDetached(chunk: Uint8Array): Promise<void> {
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
    await this.flush();
    this.pending = writeAll(this.fh, chunk);
    // Handled here so a failure is not "unhandled" in the meantime; it is rethrown by the next flush.
    this.pending.catch(() => undefined);
  }

  async drain(): Promise<void> {
    await this.pending;
  }

  async flush(): Promise<void> {
    await this.pending;
    if (this.buffered > 0) await writeAll(this.fh, this.buffer.subarray(0, this.buffered));
    this.buffered = 0;
  }

  async close(): Promise<string> {
    await this.flush();
    // No fsync: it would double the time of a large write, and durability comes from the artifact's
    // sha256 being checked again after upload (a torn local file is caught there and re-emitted).
    await this.fh.close();
    return this.hash.digest('hex');
  }

  async abort(): Promise<void> {
    await this.pending.catch(() => undefined);
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
    await sink.write(await readTensorData(data));
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
  const modelTail = onnx.ModelProto.encode({ opsetImport: opsetImports(model), metadataProps: metadataProps(model) }).finish();
  const totalLength = modelHead.length + lenFieldSize(MODEL_GRAPH, graphLength) + modelTail.length;
  return { modelHead, modelTail, graphHead, graphTail, graphLength, totalLength, tensors, externalLength };
}

/**
 * Writes the model's bytes in the field order onnx-proto itself uses (field-number order; ModelProto:
 * ir_version, producer_*, graph, opset_import, metadata_props; GraphProto: node, name, initializer, input,
 * output, value_info), so the result equals `ModelProto.encode` of the whole message.
 */
async function emit(p: Plan, sink: Sink, externalSink: Sink | undefined): Promise<void> {
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
    await sink.write(p.modelTail);
  } finally {
    for (const fh of files.values()) await fh.close();
  }
}

/**
 * Writes `model` to `path` (via `<path>.partial` and a rename, so a crash never leaves a truncated
 * model under the final name) and returns the sha256 of the file(s), hashed while writing.
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
  const writer = await HashingFileWriter.create(partial);
  const externalWriter = external ? await HashingFileWriter.create(externalPartial) : undefined;
  try {
    await emit(p, writer, externalWriter);
  } catch (err) {
    await writer.abort();
    await externalWriter?.abort();
    await rm(partial, { force: true });
    await rm(externalPartial, { force: true });
    throw err;
  }
  const sha256 = await writer.close();
  if (writer.bytes !== p.totalLength) throw new Error(`internal: wrote ${writer.bytes} bytes, planned ${p.totalLength}`);
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

// ---------------------------------------------------------------------------------------------
// Reading

/** A model file this tool cannot represent or that is not a well-formed ONNX protobuf. */
export class ModelReadError extends Error {
  constructor(readonly file: string, detail: string) {
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
  constructor(private readonly fh: FileHandle, readonly size: number) {}

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
    if (field === 0 || next > end) throw new Error(`truncated or corrupt ${what}: field ${field} at byte ${pos} runs past byte ${end}`);
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
  const model = onnx.ModelProto.decode(await concatFields(src, top.filter((f) => !graphs.includes(f))));
  if (graphs.length !== 1) throw new Error(`expected one ModelProto.graph, found ${graphs.length}`);
  const g = graphs[0] as WireField;
  const graphFields = await scanFields(src, g.payload, g.end, 'GraphProto');
  const inits = graphFields.filter((f) => f.field === GRAPH_INITIALIZER && f.wire === WIRE_LEN);
  model.graph = onnx.GraphProto.decode(await concatFields(src, graphFields.filter((f) => !inits.includes(f))));
  const initializers: ScannedTensor[] = [];
  for (const init of inits) {
    const tf = await scanFields(src, init.payload, init.end, 'TensorProto');
    const raws = tf.filter((f) => f.field === TENSOR_RAW_DATA && f.wire === WIRE_LEN);
    const proto = onnx.TensorProto.decode(await concatFields(src, tf.filter((f) => !raws.includes(f))));
    // Protobuf semantics: the last occurrence of a non-repeated field wins.
    const raw = raws[raws.length - 1];
    initializers.push(raw === undefined ? { proto } : { proto, raw: { offset: raw.payload, length: raw.end - raw.payload } });
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
  const shape = (tt.shape.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? toNumber(d.dimValue) : ''));
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

function tensorFromProto(p: onnx.ITensorProto, raw: ScannedTensor['raw'], rawSource: 'file' | Uint8Array, file: string, baseDir: string): Tensor {
  const name = p.name ?? '';
  const dtype = dtypeOf(p.dataType ?? 0, `tensor '${name}'`);
  const dims = (p.dims ?? []).map(toNumber);
  let data: TensorData;
  if (p.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const entries = new Map((p.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = entries.get('location');
    if (!location) throw new Error(`tensor '${name}': external data without a location`);
    if (isAbsolute(location) || normalize(location).startsWith('..')) {
      throw new Error(`tensor '${name}': external data location '${location}' must be relative and inside the model's directory`);
    }
    const offset = Number(entries.get('offset') ?? '0');
    const length = entries.has('length') ? Number(entries.get('length')) : expectedByteLength(dtype, dims);
    data = { kind: 'file', path: join(baseDir, location), offset, length };
  } else if (raw !== undefined) {
    data = rawSource === 'file'
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

function modelFromProto(m: onnx.ModelProto, initializers: ScannedTensor[], rawSource: 'file' | Uint8Array, file: string): Model {
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
    throw new ModelReadError(path, err instanceof Error ? err.message : String(err));
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
  return onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
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
