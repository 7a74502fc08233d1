/**
 * The errors onnx/ raises when it builds, encodes, writes or reads a model, split by whether another
 * attempt can succeed:
 * - OnnxInputError: the model or a tensor cannot be built, encoded or written as given (a value name
 *   defined twice, an opset with no IR version, data whose byte length is not what its dtype and
 *   dims need, a file range past its file's end, a model over protobuf's 2 GiB limit). Final.
 * - OnnxIoError: the worker's disk failed under a read or a write (disk full, EIO, a file gone
 *   mid-write), or something else outside the model stopped the write. Transient: another attempt
 *   writes it again.
 * The reader's ModelReadError (a file that is not an ONNX model we can represent) and the checker's
 * ModelCheckError stay where they are raised. Messages name the file, the node or tensor, and what
 * was expected against what was found; they never carry tensor data.
 *
 * Must not: import the rest of onnx/ (everything imports this), nor decide retries (activities/failures.ts).
 */

/**
 * What an OnnxInputError is about: `graph`, its structure (names, opsets, declared types), or
 * `data`, the bytes given for its tensors and where they go (lengths, file ranges, size limits).
 */
export type OnnxInputKind = 'graph' | 'data';

export interface OnnxErrorContext {
  /** The file at fault or being written: a tensor's source, or the model's output path. */
  readonly file?: string;
  /** What is at fault: `initializer 'w'`, `node 'b/Conv' (Conv)`, `graph output 'y'`, `opset`. */
  readonly subject: string;
  readonly expected?: string;
  readonly actual?: string;
}

export class OnnxInputError extends Error {
  override readonly name = 'OnnxInputError';
  readonly retryable = false;

  /** `message` is whole (it names the subject and both sides); `context` holds the same facts as fields. */
  constructor(
    readonly kind: OnnxInputKind,
    readonly context: OnnxErrorContext,
    message: string,
  ) {
    super(message);
  }

  /** The same refusal, located in `file` when it names none yet: context is added as the error travels up. */
  locatedIn(file: string): OnnxInputError {
    if (this.context.file !== undefined) return this;
    const located = new OnnxInputError(this.kind, { ...this.context, file }, `${file}: ${this.message}`);
    located.stack = this.stack?.replace(this.message, located.message);
    return located;
  }
}

export interface OnnxIoContext {
  /** The file read or written (a tensor's source, the model, its external data). */
  readonly file: string;
  /** Node's error code (`ENOSPC`, `EIO`, `ENOENT`), when the failure had one. */
  readonly code?: string;
}

export class OnnxIoError extends Error {
  override readonly name = 'OnnxIoError';
  readonly retryable = true;

  constructor(
    readonly context: OnnxIoContext,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The code of a Node system error (`ENOSPC`, `EIO`, …), or undefined for anything else. */
export function systemErrorCode(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, syscall } = err as NodeJS.ErrnoException;
  return typeof code === 'string' && typeof syscall === 'string' ? code : undefined;
}

/**
 * System error codes of a disk or system under strain, not of a wrong path: another attempt (on
 * this worker later, or on another) may read what this one could not. EISDIR, ENOENT at open and
 * the like are not here: they say the path is not a readable model file.
 */
const TRANSIENT_READ_CODES: ReadonlySet<string> = new Set([
  'EIO',
  'EAGAIN',
  'EBUSY',
  'EINTR',
  'EMFILE',
  'ENFILE',
  'ENOMEM',
  'ESTALE',
  'ETIMEDOUT',
]);

/** The code of a failed read that another attempt may not meet, or undefined. */
export function transientReadCode(err: unknown): string | undefined {
  const code = systemErrorCode(err);
  return code !== undefined && TRANSIENT_READ_CODES.has(code) ? code : undefined;
}

/** A thrown value's message, whatever was thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
