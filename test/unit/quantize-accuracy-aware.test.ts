/**
 * quantizeAccuracyAware on the committed small LocalizationNet with the real parts (quantize/,
 * parity/, diagnose/'s comparison, onnxruntime): a gate plain int8 meets is met in one round with
 * nothing float; a gate it misses makes the search keep nodes float, and two runs write the same bytes
 * and choose the same nodes; a search interrupted after some rounds and retried with its last memo
 * redoes none of them and writes the same bytes. No servers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareGraphIntermediates } from '../../diagnose/layer-errors';
import { emitBundle } from '../../models';
import { gateEvaluation, runParity } from '../../parity';
import {
  quantizeAccuracyAware,
  SEARCH_THREADS,
  type AccuracyAwareReport,
  type AccuracyAwareRequest,
} from '../../quantize/accuracy-aware';
import type { SearchMemo } from '../../quantize/search-memo';
import { tempDir } from './checkpoint-safetensors-writer';
import { SMALL_BUNDLE } from './models-fixtures';

const reference = join(SMALL_BUNDLE, 'reference.safetensors');
let dir: string;
let fp32: string;

beforeAll(async () => {
  dir = tempDir();
  fp32 = join(dir, 'model.onnx');
  await emitBundle(SMALL_BUNDLE, fp32, { opset: 17 });
});

function search(
  mae: number,
  maxFloatFraction: number,
  out: string,
  more: Partial<AccuracyAwareRequest> = {},
): Promise<AccuracyAwareReport> {
  const gate = { mae, maxAbs: 1 };
  return quantizeAccuracyAware({
    modelPath: fp32,
    calibrationPath: reference,
    outputPath: join(dir, out),
    referencePath: reference,
    gate,
    maxFloatFraction,
    scratchDir: join(dir, `${out}.rounds`),
    checkGate: async (p) => gateEvaluation(await runParity(p, reference, { ...gate, threads: SEARCH_THREADS })),
    compare: compareGraphIntermediates,
    ...more,
  });
}

/** The search's gate check, counting its calls and failing (as a lost worker would stop it) at call `failAt`. */
function countedGate(mae: number, failAt = Number.POSITIVE_INFINITY) {
  const gate = { mae, maxAbs: 1 };
  const counter = {
    calls: 0,
    checkGate: async (p: string) => {
      counter.calls += 1;
      if (counter.calls === failAt) throw new Error('worker lost');
      return gateEvaluation(await runParity(p, reference, { ...gate, threads: SEARCH_THREADS }));
    },
  };
  return counter;
}

describe('quantizeAccuracyAware', () => {
  it('writes plain int8 after one round when it meets the gate', async () => {
    const report = await search(0.03, 0.2, 'plain.onnx');
    expect(report.accuracySearch).toMatchObject({ passed: true, stop: 'plain passed', floatNodes: [], rankings: 0 });
    expect(report.accuracySearch.rounds).toHaveLength(1);
    expect(report.keptFloat?.nodes).toEqual([]);
  });

  it('keeps nodes float while the graph misses, and two runs write the same bytes with the same nodes', async () => {
    // Plain int8 of this graph: positions MAE 3.0e-3; 2e-3 is out of reach, and the best it tries (12
    // of 25 nodes float: 2.6e-3) is the one written.
    const [a, b] = [await search(0.002, 0.5, 'a.onnx'), await search(0.002, 0.5, 'b.onnx')];
    expect(a.accuracySearch.rounds[0]).toMatchObject({ kind: 'plain', passed: false });
    expect(a.accuracySearch.floatNodes.length).toBeGreaterThan(0);
    expect(a.accuracySearch.floatNodes.length).toBeLessThanOrEqual(a.accuracySearch.maxFloat);
    expect(a.output.sha256).toBe(b.output.sha256);
    expect(readFileSync(join(dir, 'a.onnx')).equals(readFileSync(join(dir, 'b.onnx')))).toBe(true);
    expect(b.accuracySearch.floatNodes).toEqual(a.accuracySearch.floatNodes);
    expect(b.accuracySearch.rounds.map((r) => r.sha256)).toEqual(a.accuracySearch.rounds.map((r) => r.sha256));
    // The graph written is the round the search chose.
    expect(a.accuracySearch.rounds.some((r) => r.sha256 === a.output.sha256)).toBe(true);
    expect([...(a.keptFloat?.nodes ?? [])].sort()).toEqual(a.accuracySearch.floatNodes.map((f) => f.node).sort());
  });

  it('a retried search handed the memo of an interrupted attempt redoes none of its rounds and writes the same bytes', async () => {
    const whole = countedGate(0.002);
    const full = await search(0.002, 0.5, 'whole.onnx', { checkGate: whole.checkGate });
    const rounds = full.accuracySearch.rounds.length;
    expect(rounds).toBeGreaterThan(3);

    // The first attempt loses its worker in its fourth round's gate check; its last heartbeat's memo
    // (through JSON, as Temporal carries it) holds three rounds.
    const lost = countedGate(0.002, 4);
    let memo: SearchMemo | undefined;
    const basis = 'the same graph, calibration and gate';
    await expect(
      search(0.002, 0.5, 'lost.onnx', {
        checkGate: lost.checkGate,
        resume: { basis },
        onRound: (_round, m) => (memo = JSON.parse(JSON.stringify(m)) as SearchMemo),
      }),
    ).rejects.toThrow('worker lost');
    expect(memo?.rounds).toHaveLength(3);

    const retry = countedGate(0.002);
    let comparisons = 0;
    const resumed = await search(0.002, 0.5, 'resumed.onnx', {
      checkGate: retry.checkGate,
      compare: (...args) => ((comparisons += 1), compareGraphIntermediates(...args)),
      resume: { basis, ...(memo ? { memo } : {}) },
    });
    expect(retry.calls).toBe(rounds - 3);
    expect(memo?.rankings.length).toBeGreaterThan(0);
    expect(comparisons).toBe(full.accuracySearch.rankings - (memo?.rankings.length ?? 0));
    expect(readFileSync(join(dir, 'resumed.onnx')).equals(readFileSync(join(dir, 'whole.onnx')))).toBe(true);
    expect(resumed.accuracySearch.floatNodes).toEqual(full.accuracySearch.floatNodes);
    expect(resumed.accuracySearch.rounds).toEqual(full.accuracySearch.rounds);
    expect(resumed.accuracySearch.replayed).toEqual({ rounds: 3, rankings: memo?.rankings.length });
    expect(full.accuracySearch.replayed).toBeUndefined();

    // A memo of another search (another basis) is not used: every round is done again.
    const other = countedGate(0.002);
    await search(0.002, 0.5, 'other.onnx', {
      checkGate: other.checkGate,
      resume: { basis: 'another graph', ...(memo ? { memo } : {}) },
    });
    expect(other.calls).toBe(rounds);
  });
});
