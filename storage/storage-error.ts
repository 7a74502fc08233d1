/**
 * The typed errors of storage/: a failed object-store operation (with the facts that decided whether
 * a retry can help), bad input, content that is not what its sha256 names, an object that reads back
 * other than written, and an upload stopped part-way. Messages name the bucket, key and offending value; they never carry credentials or
 * request signatures.
 */

/** A failed object-store call. `retryable` is what `isRetryableStorageError` (retry.ts) decided. */
export class StorageError extends Error {
  constructor(
    message: string,
    readonly context: {
      readonly operation: string;
      readonly bucket?: string;
      readonly key?: string;
      /** S3 error code (`NoSuchUpload`, `AccessDenied`) or Node error code (`ECONNRESET`). */
      readonly code?: string;
      readonly retryable: boolean;
      readonly attempts?: number;
    },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }

  get retryable(): boolean {
    return this.context.retryable;
  }
}

/** Input that can never succeed (bad sha256, a model name that escapes its prefix, a missing file). */
export class StorageInputError extends Error {
  readonly retryable = false;
  constructor(
    readonly field: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(
      `${field}: expected ${expected}, got ${JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value)}`,
    );
    this.name = 'StorageInputError';
  }
}

/** The local file does not match what the caller said it is, or what an earlier attempt uploaded. */
export class ContentMismatchError extends Error {
  readonly retryable = false;
  constructor(
    message: string,
    readonly context: {
      readonly bucket: string;
      readonly key: string;
      readonly expected: string;
      readonly actual: string;
    },
  ) {
    super(message);
    this.name = 'ContentMismatchError';
  }
}

/** An object read back right after it was written is not the bytes written (the stack smoke check). */
export class ReadBackMismatchError extends Error {
  readonly retryable = false;
  constructor(
    readonly context: {
      readonly bucket: string;
      readonly key: string;
      /** sha256 of the bytes written. */
      readonly wrote: string;
      /** sha256 of the bytes read back. */
      readonly read: string;
    },
  ) {
    super(`s3://${context.bucket}/${context.key}: read back sha256 ${context.read}, wrote ${context.wrote}`);
    this.name = 'ReadBackMismatchError';
  }
}

/** The caller's AbortSignal fired (activity cancelled, or a test interrupting an upload). */
export class UploadAbortedError extends Error {
  readonly retryable = true;
  constructor(readonly partsFinished: number) {
    super(`upload interrupted after ${partsFinished} finished part(s); resume from the last checkpoint`);
    this.name = 'UploadAbortedError';
  }
}
