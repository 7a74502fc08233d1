/** Unit: common/retry-backoff, the one retry loop: equal-jitter waits, and when it stops retrying. */
import { describe, expect, it } from 'vitest';
import { backoffDelay, retryWithBackoff } from '../../common/retry-backoff';

const policy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 300 };

describe('retryWithBackoff', () => {
  it('retries a retryable failure with waits in [cap/2, cap] until it succeeds', async () => {
    const waits: number[] = [];
    let calls = 0;
    const out = await retryWithBackoff(
      policy,
      async (n) => {
        calls++;
        if (n < 3) throw new Error(`transient ${n}`);
        return 'ok';
      },
      { isRetryable: () => true, sleep: async (ms) => void waits.push(ms) },
    );
    expect(out).toBe('ok');
    expect(calls).toBe(3);
    expect(waits[0]).toBeGreaterThanOrEqual(50);
    expect(waits[0]).toBeLessThanOrEqual(100);
    expect(waits[1]).toBeGreaterThanOrEqual(100);
    expect(waits[1]).toBeLessThanOrEqual(200);
    expect(backoffDelay(5, policy, () => 1)).toBe(300);
  });

  it('gives up at once on a non-retryable failure, and after maxAttempts on a retryable one, through giveUp', async () => {
    const giveUp = (err: unknown, attempts: number, retryable: boolean) =>
      new Error(`${(err as Error).message} after ${attempts} (retryable ${retryable})`);
    const sleep = async () => undefined;
    await expect(
      retryWithBackoff(policy, async () => Promise.reject(new Error('400')), {
        isRetryable: () => false,
        giveUp,
        sleep,
      }),
    ).rejects.toThrow('400 after 1 (retryable false)');
    await expect(
      retryWithBackoff(policy, async () => Promise.reject(new Error('503')), {
        isRetryable: () => true,
        giveUp,
        sleep,
      }),
    ).rejects.toThrow('503 after 4 (retryable true)');
  });

  it('stops retrying once its signal is aborted', async () => {
    const abort = new AbortController();
    let calls = 0;
    const run = retryWithBackoff(
      policy,
      async () => {
        calls++;
        abort.abort();
        throw new Error('reset');
      },
      { isRetryable: () => true, signal: abort.signal, sleep: async () => undefined },
    );
    await expect(run).rejects.toThrow('reset');
    expect(calls).toBe(1);
  });
});
