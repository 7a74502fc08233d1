/**
 * bench/signature-feeds: the benchmark's feeds follow the graph's signature. LocalizationNet gets the
 * values it always got (and its reference is never fetched); a multi-input graph takes its receivers
 * from the request's dims or the reference's first case and its int64 ids and bool masks from the
 * reference's own values; without them the refusal names the input or dimension and the option to
 * pass. Through the library, the activity and the CLI. No servers.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { InferenceSession } from 'onnxruntime-node';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBenchmarkLatencyActivity, type BenchmarkActivityInput } from '../../activities/benchmark-latency';
import { BenchmarkError } from '../../bench/bench-error';
import { benchmarkModel } from '../../bench/latency-benchmark';
import { randomFeeds } from '../../bench/model-inputs';
import type { LatencyReport } from '../../bench/report-types';
import { planFeeds, signatureFeeds } from '../../bench/signature-feeds';
import { main } from '../../client/cli';
import { emitBundle } from '../../models';
import { tempDir } from './checkpoint-safetensors-writer';
import { SMALL_BUNDLE } from './models-fixtures';
import { FEATURES, receiverCase, receiverGraph, receiverTensors, writeTensors } from './signature-test-graphs';

const QUICK = { maxRuns: 4, minRuns: 2, timeBudgetMs: 20, warmupMaxMs: 20, warmupMinMs: 0, threads: 1 } as const;

let localizationNet: string;
let receivers: string;
let reference: string;
const r4 = receiverCase(3, 4, 11);
const r7 = receiverCase(2, 7, 12);

beforeAll(async () => {
  localizationNet = join(tempDir(), 'model.onnx');
  await emitBundle(SMALL_BUNDLE, localizationNet);
  receivers = await receiverGraph();
  reference = writeTensors({ ...receiverTensors(r7, 'r7/'), ...receiverTensors(r4, 'r4/') });
});
afterEach(() => vi.restoreAllMocks());

async function refusal(promise: Promise<unknown>, kind: string): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BenchmarkError);
  expect((err as BenchmarkError).context.kind).toBe(kind);
  return (err as Error).message;
}

describe('planFeeds and signatureFeeds', () => {
  it('give LocalizationNet the values it always got, without fetching its reference', async () => {
    const fetch = vi.fn(async () => join(SMALL_BUNDLE, 'reference.safetensors'));
    const plan = await planFeeds(localizationNet, 'small', { reference: fetch });
    expect(fetch).not.toHaveBeenCalled();
    expect(plan.description).toEqual({
      dims: {},
      dimsFrom: {},
      inputs: [{ name: 'mel_spectrogram', dtype: 'float32', shape: ['batch', 3, 128, 32], values: 'random normal' }],
    });
    const session = await InferenceSession.create(localizationNet);
    try {
      for (const batch of [1, 32]) {
        const before = randomFeeds(session, batch, 4, 17, 'small');
        const now = signatureFeeds(plan, batch, 4, 17, 'small');
        expect(now.map((f) => f.mel_spectrogram?.dims)).toEqual(before.map((f) => f.mel_spectrogram?.dims));
        const bytes = (f: InferenceSession.FeedsType) => Buffer.from((f.mel_spectrogram?.data as Float32Array).buffer);
        now.forEach((f, set) => expect(bytes(f).equals(bytes(before[set]!)), `batch ${batch}, set ${set}`).toBe(true));
      }
    } finally {
      await session.release();
    }
  });

  it("take the receivers and the ids and masks from the reference's first case (in name order)", async () => {
    const plan = await planFeeds(receivers, 'receivers', { reference });
    expect(plan.description).toEqual({
      dims: { receivers: 4 },
      dimsFrom: { receivers: 'reference' },
      inputs: [
        { name: 'features', dtype: 'float32', shape: ['batch', 4, FEATURES], values: 'random normal' },
        { name: 'ids', dtype: 'int64', shape: ['batch', 4], values: 'reference' },
        { name: 'mask', dtype: 'bool', shape: ['batch', 4], values: 'reference' },
      ],
      referenceCase: 'r4',
    });
    const [first, second] = signatureFeeds(plan, 2, 2, 17, 'receivers');
    expect(first?.ids?.dims).toEqual([2, 4]);
    expect([...(first?.ids?.data as BigInt64Array)]).toEqual([...r4.ids.subarray(0, 8)]);
    // The next set goes on where this one ended, wrapping round the reference's 12 ids.
    expect([...(second?.ids?.data as BigInt64Array)]).toEqual([...r4.ids.subarray(8, 12), ...r4.ids.subarray(0, 4)]);
    expect([...(first?.mask?.data as Uint8Array)]).toEqual([...r4.mask.subarray(0, 8)]);
    expect(first?.features?.dims).toEqual([2, 4, FEATURES]);
  });

  it('size a dimension from the request over the reference, and say which gave it', async () => {
    const plan = await planFeeds(receivers, 'receivers', { reference, dims: { receivers: 7 } });
    expect(plan.description.dims).toEqual({ receivers: 7 });
    expect(plan.description.dimsFrom).toEqual({ receivers: 'request' });
    const [feed] = signatureFeeds(plan, 3, 1, 17, 'receivers');
    expect(feed?.features?.dims).toEqual([3, 7, FEATURES]);
    expect((feed?.ids?.data as BigInt64Array).every((id) => r4.ids.includes(id))).toBe(true);
  });

  it('refuse, naming the dimension or the input and the option that gives it', async () => {
    expect(await refusal(planFeeds(receivers, 'receivers'), 'input-unsupported')).toBe(
      "receivers: input 'features' dimension 1 is 'receivers': give its size with --dims receivers=N (benchmark.dims in an export request) or a reference (--reference <reference.safetensors>)",
    );
    expect(await refusal(planFeeds(receivers, 'receivers', { dims: { receivers: 3 } }), 'input-unsupported')).toBe(
      "receivers: input 'ids' is int64: the benchmark feeds it the reference's own values; pass a reference (--reference <reference.safetensors>; an export passes its bundle's)",
    );
    expect(
      await refusal(planFeeds(receivers, 'receivers', { reference, dims: { seq_len: 9 } }), 'bad-options'),
    ).toMatch(/dims names 'seq_len', which is not a symbolic dimension .* \(those are receivers;/);
    expect(await refusal(planFeeds(receivers, 'receivers', { reference, dims: { batch: 9 } }), 'bad-options')).toMatch(
      /dims names 'batch'/,
    );
    const wrong = writeTensors({ ...receiverTensors(r4, 'r4/'), 'r4/ids': receiverTensors(r7)['features']! });
    expect(await refusal(planFeeds(receivers, 'receivers', { reference: wrong }), 'input-unsupported')).toMatch(
      /the reference does not fit the graph: .*case 'r4': tensor 'r4\/ids'/,
    );
  });
});

describe('the benchmark of a multi-input graph', () => {
  it('runs and reports the dimensions it ran with', async () => {
    const report = await benchmarkModel(
      { path: receivers, label: 'receivers' },
      { ...QUICK, batchSizes: [1, 4], inputs: { reference, dims: { receivers: 5 } } },
    );
    expect(report.batches.map((b) => b.batchSize)).toEqual([1, 4]);
    expect(report.feeds?.dims).toEqual({ receivers: 5 });
    expect(report.feeds?.referenceCase).toBe('r4');
  });

  it('through the activity: the reference is resolved like the model, dims passed through', async () => {
    const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
    const resolved: string[] = [];
    const { benchmarkLatency } = createBenchmarkLatencyActivity({
      resolveModelPath: async (ref) => {
        resolved.push(ref.uri);
        return reference;
      },
    });
    const input: BenchmarkActivityInput = {
      model: { uri: pathToFileURL(receivers).href },
      executionProvider: 'cpu',
      reference: { uri: 's3://bundles/abc/reference.safetensors' },
      dims: { receivers: 6 },
      batchSizes: [2],
      maxRuns: 3,
      minRuns: 2,
      timeBudgetMs: 20,
      threads: 1,
    };
    const report = (await env.run(benchmarkLatency, input)) as LatencyReport;
    expect(resolved).toEqual(['s3://bundles/abc/reference.safetensors']);
    expect(report.feeds?.inputs.map((i) => i.shape)).toEqual([
      ['batch', 6, FEATURES],
      ['batch', 6],
      ['batch', 6],
    ]);
  });

  it('through the CLI: --dims and --reference, and the report says what it fed', async () => {
    let stdout = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const args = ['--batch', '2', '--runs', '3', '--min-runs', '2', '--time-budget', '0.02', '--threads', '1'];
    await main(['node', 'onnx-export', 'bench', receivers, ...args, '--dims', 'receivers=3', '--reference', reference]);
    expect(stdout).toContain(
      `  fed features float32 [batch, 3, ${FEATURES}] (random normal), ids int64 [batch, 3] (reference), mask bool [batch, 3] (reference); receivers 3 (request); reference case r4`,
    );
  });
});
