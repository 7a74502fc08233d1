import { describe, expect, it } from 'vitest';
import type { Context } from '@temporalio/activity';
import { METRICS } from '../../common/metrics';
import { loadConfig } from '../../config/environment';
import { parseMetricsAddress } from '../../config/metrics-address';
import { stageMetricsInterceptors, uploadedBytesOf } from '../../worker/stage-metrics';

describe('ONNX_EXPORT_METRICS_ADDRESS', () => {
  it('is off when unset or empty', () => {
    expect(parseMetricsAddress(undefined)).toBeUndefined();
    expect(parseMetricsAddress('')).toBeUndefined();
    expect(parseMetricsAddress('  ')).toBeUndefined();
    expect(loadConfig({}).metrics.address).toBeUndefined();
  });

  it('accepts an IPv4 or bracketed IPv6 socket address, and localhost as 127.0.0.1', () => {
    expect(parseMetricsAddress('127.0.0.1:9464')).toBe('127.0.0.1:9464');
    expect(parseMetricsAddress('0.0.0.0:9464')).toBe('0.0.0.0:9464');
    expect(parseMetricsAddress('[::1]:9464')).toBe('[::1]:9464');
    expect(parseMetricsAddress('localhost:9464')).toBe('127.0.0.1:9464');
    expect(loadConfig({ ONNX_EXPORT_METRICS_ADDRESS: '127.0.0.1:24964' }).metrics.address).toBe('127.0.0.1:24964');
  });

  it.each([
    ['9464', 'not a host and port'],
    ['127.0.0.1', 'not a host and port'],
    ['127.0.0.1:0', 'port 0'],
    ['127.0.0.1:70000', 'port 70000'],
    ['127.0.0.1:http', 'not a host and port'],
    ['metrics.internal:9464', 'not an IPv4 address'],
    ['300.1.1.1:9464', 'not an IPv4 address'],
    ['[nope]:9464', 'not an IPv6 address'],
    ['::1:9464', 'not a host and port'],
    ['http://127.0.0.1:9464', 'not a host and port'],
  ])('refuses %s, naming the variable', (raw, why) => {
    expect(() => parseMetricsAddress(raw)).toThrow(/ONNX_EXPORT_METRICS_ADDRESS=/);
    expect(() => parseMetricsAddress(raw)).toThrow(why);
    expect(() => loadConfig({ ONNX_EXPORT_METRICS_ADDRESS: raw })).toThrow(/ONNX_EXPORT_METRICS_ADDRESS/);
  });
});

describe('uploaded bytes of an activity result', () => {
  it('reads an upload report (emitGraph) and ignores everything else', () => {
    expect(uploadedBytesOf({ upload: { method: 'put', bytesSent: 1234, bytesReused: 0 } })).toBe(1234);
    expect(uploadedBytesOf({ upload: { method: 'existing', bytesSent: 0, bytesReused: 0 } })).toBe(0);
    expect(uploadedBytesOf({ bytes: 99 })).toBe(0);
    expect(uploadedBytesOf(undefined)).toBe(0);
    expect(uploadedBytesOf(null)).toBe(0);
    expect(uploadedBytesOf('upload')).toBe(0);
  });
});

describe('the stage-timing activity interceptor', () => {
  function fakeContext(aborted = false) {
    const recorded: { kind: string; name: string; value: number; tags: Record<string, unknown> | undefined }[] = [];
    const meter = {
      createCounter: (name: string) => ({
        add: (value: number, tags?: Record<string, unknown>) => recorded.push({ kind: 'counter', name, value, tags }),
      }),
      createHistogram: (name: string) => ({
        record: (value: number, tags?: Record<string, unknown>) =>
          recorded.push({ kind: 'histogram', name, value, tags }),
      }),
    };
    const ctx = {
      metricMeter: meter,
      info: { activityType: 'emitGraph' },
      cancellationSignal: { aborted },
    } as unknown as Context;
    return { ctx, recorded };
  }
  const input = { args: [], headers: {} };

  it('times a completed attempt and counts the bytes its upload sent', async () => {
    const { ctx, recorded } = fakeContext();
    const inbound = stageMetricsInterceptors(ctx).inbound!;
    const out = await inbound.execute!(input, async () => ({
      upload: { method: 'put', bytesSent: 10, bytesReused: 0 },
    }));
    expect(out).toEqual({ upload: { method: 'put', bytesSent: 10, bytesReused: 0 } });
    expect(
      recorded.map(({ kind, name, value }) => ({ kind, name, value: kind === 'counter' ? value : 'time' })),
    ).toEqual([
      { kind: 'counter', name: METRICS.uploadedBytes, value: 10 },
      { kind: 'histogram', name: METRICS.stageDuration, value: 'time' },
    ]);
    expect(recorded[1]?.tags).toEqual({ stage: 'emitGraph', outcome: 'completed' });
    expect(recorded[1]?.value).toBeGreaterThanOrEqual(0);
  });

  it('records a failed attempt and rethrows its error unchanged', async () => {
    const { ctx, recorded } = fakeContext();
    const boom = new Error('boom');
    await expect(
      stageMetricsInterceptors(ctx).inbound!.execute!(input, async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.tags).toEqual({ stage: 'emitGraph', outcome: 'failed' });
  });

  it('records a cancelled attempt as cancelled', async () => {
    const { ctx, recorded } = fakeContext(true);
    await expect(
      stageMetricsInterceptors(ctx).inbound!.execute!(input, async () => {
        throw new Error('aborted');
      }),
    ).rejects.toThrow('aborted');
    expect(recorded[0]?.tags).toEqual({ stage: 'emitGraph', outcome: 'cancelled' });
  });
});
