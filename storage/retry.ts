/**
 * Which object-store errors are transient, and object-store calls retried on them (the loop and its
 * equal-jitter backoff are common/retry-backoff.ts): connection resets, timeouts, 5xx and
 * throttling are transient; 4xx answers (missing bucket, denied access, bad part, unknown upload)
 * are not, and are raised at once with a clear message. The minio client's own retry is switched
 * off (see minio-client.ts) so this is the one policy. Refused credentials and failed TLS
 * (ServiceAccessError) are never retried; the StorageError raised keeps them as its cause, which
 * activities/failures.ts finds. Must not log or include credentials in errors.
 */
import { retryWithBackoff, type RetryPolicy, type Sleep } from '../common/retry-backoff';
import { ServiceAccessError } from '../config/service-access-error';
import { StorageError } from './storage-error';

/** Node/undici network error codes that mean "the connection broke; the request may be sent again". */
const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** S3 error codes of 5xx/throttling answers (the minio client maps 503 to `SlowDown`). */
const RETRYABLE_S3_CODES = new Set([
  'InternalError',
  'ServiceUnavailable',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'OperationTimedOut',
  'XMinioServerNotInitialized',
  'XMinioReadQuorum',
  'XMinioWriteQuorum',
  'BadGateway',
  'GatewayTimeout',
]);

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code) return code;
  const cause = (err as { cause?: unknown }).cause;
  return cause !== err ? errorCode(cause) : undefined;
}

/** True when sending the same request again can succeed. */
export function isRetryableStorageError(err: unknown): boolean {
  if (err instanceof StorageError) return err.retryable;
  // Refused credentials or failed TLS (minio-client.ts classifies them): the same request fails again.
  if (err instanceof ServiceAccessError) return false;
  const code = errorCode(err);
  if (code && (RETRYABLE_NETWORK_CODES.has(code) || RETRYABLE_S3_CODES.has(code))) return true;
  const message = err instanceof Error ? err.message : String(err);
  // The minio client's own retry wrapper (disabled by us, but kept safe) and bare socket errors.
  return /socket hang up|Retryable HTTP status: 5\d\d|Request failed after \d+ retries|other side closed/i.test(
    message,
  );
}

export function storageErrorCode(err: unknown): string | undefined {
  return errorCode(err);
}

/**
 * Runs `fn` until it succeeds, a non-retryable error occurs, or `maxAttempts` is used up. The error
 * raised is always a StorageError naming the operation, bucket and key, with the original as cause.
 */
export async function withStorageRetry<T>(
  what: { operation: string; bucket?: string; key?: string },
  policy: RetryPolicy,
  fn: () => Promise<T>,
  opts: { sleep?: Sleep; signal?: AbortSignal; isRetryable?: (err: unknown) => boolean } = {},
): Promise<T> {
  const isRetryable = opts.isRetryable ?? isRetryableStorageError;
  return retryWithBackoff(policy, fn, {
    // A StorageError is already final: an inner call gave up on it. An access failure is final too,
    // whatever a caller's own predicate says.
    isRetryable: (err) => !(err instanceof StorageError) && !(err instanceof ServiceAccessError) && isRetryable(err),
    giveUp: (err, attempts, retryable) => {
      if (err instanceof StorageError) return err;
      const access = err instanceof ServiceAccessError;
      const code = access ? err.context.code : storageErrorCode(err);
      const detail = err instanceof Error ? err.message : String(err);
      const where = what.bucket ? ` s3://${what.bucket}/${what.key ?? ''}` : '';
      return new StorageError(
        // An access error's message already starts with its code's explanation.
        `${what.operation}${where}: ${code && !access ? `${code}: ` : ''}${detail}` +
          (retryable ? ` (gave up after ${attempts} attempt(s))` : ''),
        { ...what, code, retryable, attempts },
        { cause: err },
      );
    },
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
}
