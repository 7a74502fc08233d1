/**
 * Writes a model to disk: the encoder's bytes (encode.ts) go through a hashing, buffered file writer
 * into `<path>.partial`, renamed into place when complete, with the external data sidecar when the
 * model has one. Returns each file's size and sha256, hashed while writing.
 *
 * Must not: encode protobuf itself (encode.ts) or read tensor sources (tensor-bytes.ts).
 */
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FileTailHasher, TAIL_HASH_MIN_BYTES } from '../hashing/worker-sha256';
import type { Sink } from './encode';
import { emit, encodeModelTail, overProtobufLimit, plan, PROTOBUF_LIMIT_BYTES, WRITE_BUFFER_BYTES } from './encode';
import type { Model } from './ir';
import { OnnxInputError } from './onnx-error';
import { atWriteBoundary, type CallerCode } from './write-boundary';

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

  private constructor(
    private readonly fh: FileHandle,
    private readonly tail: FileTailHasher | undefined,
  ) {
    this.hash = tail === undefined ? createHash('sha256') : undefined;
  }

  /** Opens `path` for writing; `expectedBytes` (the plan) picks the inline or the tail hash. */
  static async create(path: string, expectedBytes: number): Promise<HashingFileWriter> {
    const fh = await open(path, 'w');
    return new HashingFileWriter(fh, expectedBytes >= TAIL_HASH_MIN_BYTES ? FileTailHasher.start(path) : undefined);
  }

  /**
   * Writes `bytes` at the end of the file, then tells the tail hasher they are there. A small file
   * (hashed inline) is written synchronously: a thread-pool round trip per write cost more than the
   * copy into the page cache, and the event loop had nothing else to do meanwhile.
   */
  private async put(bytes: Uint8Array): Promise<void> {
    if (this.tail === undefined) writeAllSync(this.fh.fd, bytes);
    else await writeAll(this.fh, bytes);
    this.written += bytes.byteLength;
    this.tail?.advance(this.written);
  }

  async write(chunk: Uint8Array): Promise<void> {
    // The Sink's promise: a detached chunk is the sink's until its next call resolves. Its caller
    // reuses that buffer next (encode.ts rotates three), so even a write that only fills the buffer
    // waits for the detached write in flight.
    await this.pending;
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

/** Deletes a file, if there is one (`rm` with `force`, without its recursive-removal machinery). */
async function removeIfPresent(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.byteLength;) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done);
    done += bytesWritten;
  }
}

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

/**
 * Writes `model` to `path` (via `<path>.partial` and a rename, so a crash never leaves a truncated
 * model under the final name; missing parent folders are made) and returns the sha256 of the
 * file(s), hashed while writing. What it throws is an OnnxInputError (the model as given cannot be
 * written), an OnnxIoError (the disk failed; worth another attempt) or the caller's own failure
 * (a lazy loader's, the late metadata's) unchanged: write-boundary.ts.
 */
export async function writeModel(model: Model, path: string, options: WriteOptions = {}): Promise<WrittenModel> {
  return atWriteBoundary(model, path, (watched, caller) => writeModelFile(watched, path, options, caller));
}

async function writeModelFile(
  model: Model,
  path: string,
  options: WriteOptions,
  caller: CallerCode,
): Promise<WrittenModel> {
  const mode = options.externalData ?? 'auto';
  const location = options.externalDataFileName ?? `${basename(path)}.data`;
  if (location.includes('/') || location.includes('\\') || location === basename(path)) {
    throw new OnnxInputError(
      'data',
      {
        subject: 'external data file name',
        expected: "a plain file name, different from the model's",
        actual: location,
      },
      `external data file name '${location}' must be a plain file name, different from the model's`,
    );
  }
  let p = await plan(model, mode === 'always', location);
  if (mode === 'auto' && p.totalLength > PROTOBUF_LIMIT_BYTES) p = await plan(model, true, location);
  if (p.totalLength > PROTOBUF_LIMIT_BYTES) throw overProtobufLimit(p.totalLength, 'write it with external data');
  const external = p.tensors.some((t) => !t.inline);
  const externalPath = join(dirname(path), location);
  const partial = `${path}.partial`;
  const externalPartial = `${externalPath}.partial`;
  // Late metadata: a rejection aborts the write at the next tensor; the value is awaited only for the tail.
  const metadata = options.metadata === undefined ? undefined : caller.watch(options.metadata);
  let failed: { readonly reason: unknown } | undefined;
  metadata?.catch((reason: unknown) => {
    failed = { reason };
  });
  const alive = (): void => {
    if (failed !== undefined) throw failed.reason;
  };
  let totalLength = p.totalLength;
  const tail = async (): Promise<Uint8Array> => {
    if (metadata === undefined) return p.modelTail;
    const late = await metadata;
    const modelTail = encodeModelTail(model, { ...model.metadataProps, ...late });
    totalLength = p.totalLength - p.modelTail.length + modelTail.length;
    if (totalLength > PROTOBUF_LIMIT_BYTES) throw overProtobufLimit(totalLength, 'write it with external data');
    return modelTail;
  };
  await mkdir(dirname(path), { recursive: true });
  const writer = await HashingFileWriter.create(partial, p.totalLength);
  let externalWriter: HashingFileWriter | undefined;
  let sha256: string;
  let externalSha: string | undefined;
  try {
    if (external) externalWriter = await HashingFileWriter.create(externalPartial, p.externalLength);
    await emit(p, writer, externalWriter, tail, alive);
    // Closing flushes the last buffered bytes: a full disk may only show here.
    sha256 = await writer.close();
    externalSha = await externalWriter?.close();
  } catch (err) {
    await writer.abort();
    await externalWriter?.abort();
    await rm(partial, { force: true });
    await rm(externalPartial, { force: true });
    throw err;
  }
  if (writer.bytes !== totalLength) throw new Error(`internal: wrote ${writer.bytes} bytes, planned ${totalLength}`);
  let externalData: WrittenFile | undefined;
  if (externalWriter !== undefined && externalSha !== undefined) {
    await rename(externalPartial, externalPath);
    externalData = { path: externalPath, bytes: externalWriter.bytes, sha256: externalSha };
  } else {
    // A previous write of this path may have left a sidecar that no longer belongs to the model.
    await removeIfPresent(externalPath);
  }
  await rename(partial, path);
  return { path, bytes: writer.bytes, sha256, ...(externalData ? { externalData } : {}) };
}
