/**
 * The one retry loop with exponential backoff, used by storage/ (object-store calls) and registry/
 * (MLflow REST calls). Backoff is "equal jitter": before attempt n+1 it waits a uniform time in
 * [cap/2, cap], cap = min(maxDelayMs, baseDelayMs·2^(n-1)), so retries spread out but never come
 * back at once. What is retryable and what error a caller gives up with are the caller's to say.
 * No Node built-ins or I/O (common/ is imported by workflow code; workflows never call this).
 */

export interface RetryPolicy {
  /** Total attempts, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait before attempt `attempt + 1` (attempt counts from 1), equal jitter. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

export interface RetryOptions {
  /** True when sending the same request again can succeed. */
  isRetryable: (err: unknown) => boolean;
  /** The error to raise when retrying stops (default: the last error itself). */
  giveUp?: (err: unknown, attempts: number, retryable: boolean) => unknown;
  sleep?: Sleep;
  /** Once aborted, the next failure is final. */
  signal?: AbortSignal;
}

/** Runs `attempt(n)` until it succeeds, fails non-retryably, the signal aborts, or attempts run out. */
export async function retryWithBackoff<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  opts: RetryOptions,
): Promise<T> {
  const sleep = opts.sleep ?? realSleep;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      const retryable = opts.isRetryable(err);
      if (!retryable || n >= policy.maxAttempts || opts.signal?.aborted) {
        throw opts.giveUp ? opts.giveUp(err, n, retryable) : err;
      }
      await sleep(backoffDelay(n, policy));
    }
  }
}
