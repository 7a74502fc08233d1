/**
 * The accuracy-aware search's schedule (quantize/float-fallback-search.ts) on a model of a graph:
 * each node adds a fixed error while quantized, the gate passes when their sum is within the
 * tolerance, and the ranking reports those errors. Proves which nodes it keeps float, how many
 * rounds it takes, that it stops at the bound with the best round, that equal sensitivities are
 * ordered by name whatever order the ranking gives, and that it is a function of its inputs. No I/O.
 */
import { describe, expect, it } from 'vitest';
import {
  bySensitivity,
  floatBound,
  searchFloatNodes,
  type GateEvaluation,
  type NodeSensitivity,
  type SearchPorts,
} from '../../quantize/float-fallback-search';

/** Node name → error it adds while quantized; the gate: total ≤ tolerance. */
function additiveGraph(errors: Record<string, number>, tolerance: number, order?: (s: NodeSensitivity[]) => void) {
  const calls = { evaluate: [] as string[][], rank: [] as string[][] };
  const ports: SearchPorts = {
    evaluate(floatNodes) {
      calls.evaluate.push([...floatNodes]);
      const float = new Set(floatNodes);
      const total = Object.entries(errors)
        .filter(([n]) => !float.has(n))
        .reduce((sum, [, e]) => sum + e, 0);
      return Promise.resolve({
        passed: total <= tolerance,
        score: total / tolerance,
        mae: total,
        maxAbs: total,
      } satisfies GateEvaluation);
    },
    rank(floatNodes) {
      calls.rank.push([...floatNodes]);
      const float = new Set(floatNodes);
      const ranked = Object.entries(errors)
        .filter(([n]) => !float.has(n))
        .map(([node, rise]) => ({ node, rise }));
      order?.(ranked);
      return Promise.resolve(ranked);
    },
  };
  return { ports, calls };
}

/** 20 nodes n00…n19; node i adds 2^-i·unit: the earliest matter most. */
const geometric = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`n${String(i).padStart(2, '0')}`, 2 ** -i]));

describe('searchFloatNodes', () => {
  it('stops after one round, ranking nothing, when plain int8 passes', async () => {
    const { ports, calls } = additiveGraph({ a: 0.1, b: 0.2 }, 1);
    const result = await searchFloatNodes({ quantizable: 2, maxFloatFraction: 0.5 }, ports);
    expect(result).toMatchObject({ passed: true, stop: 'plain passed', rankings: 0 });
    expect(result.chosen.floatNodes).toEqual([]);
    expect(calls.evaluate).toEqual([[]]);
    expect(calls.rank).toEqual([]);
  });

  it('keeps the fewest most sensitive nodes float that meet the gate: 5 nodes in 6 rounds (1, 3, 7, then bisection 5, 4)', async () => {
    // Keeping n00…n04 float leaves 2^-4 - 2^-19 ≈ 0.0625 ≤ 0.1; n00…n03 leaves ≈ 0.125.
    const { ports, calls } = additiveGraph(geometric, 0.1);
    const result = await searchFloatNodes({ quantizable: 20, maxFloatFraction: 0.5 }, ports);
    expect(result.passed).toBe(true);
    expect(result.stop).toBe('passed');
    expect(result.chosen.floatNodes).toEqual(['n00', 'n01', 'n02', 'n03', 'n04']);
    expect(calls.evaluate.map((f) => f.length)).toEqual([0, 1, 3, 7, 5, 4]);
    expect(result.rounds.map((r) => r.kind)).toEqual(['plain', 'grow', 'grow', 'grow', 'bisect', 'bisect']);
    // Re-ranked after every growing round, on the graph that round kept.
    expect(calls.rank).toEqual([[], ['n00'], ['n00', 'n01', 'n02']]);
    expect(result.rankings).toBe(3);
    expect(result.chosen.evaluation.passed).toBe(true);
  });

  it('stops at the bound with the best graph it tried when no allowed float set meets the gate', async () => {
    const { ports, calls } = additiveGraph(geometric, 1e-6);
    const result = await searchFloatNodes({ quantizable: 20, maxFloatFraction: 0.2 }, ports);
    expect(result).toMatchObject({ passed: false, stop: 'bound', maxFloat: 4 });
    // 1, 3, then the last step clamped to the bound (4, not 7).
    expect(calls.evaluate.map((f) => f.length)).toEqual([0, 1, 3, 4]);
    expect(result.chosen.floatNodes).toEqual(['n00', 'n01', 'n02', 'n03']);
    expect(result.chosen.evaluation.score).toBe(Math.min(...result.rounds.map((r) => r.evaluation.score)));
  });

  it('never keeps a node float with maxFloatFraction 0 (or below one node): plain int8 is the best and only round', async () => {
    for (const fraction of [0, 0.04]) {
      const { ports, calls } = additiveGraph(geometric, 1e-6);
      const result = await searchFloatNodes({ quantizable: 20, maxFloatFraction: fraction }, ports);
      expect(result).toMatchObject({ passed: false, stop: 'bound', maxFloat: 0 });
      expect(calls.evaluate).toEqual([[]]);
    }
  });

  it('orders equal sensitivities by node name whatever order the ranking returns them in', async () => {
    const equal = { d: 1, b: 1, a: 1, c: 1, e: 1 };
    const runs = await Promise.all(
      [(s: NodeSensitivity[]) => s.reverse(), (s: NodeSensitivity[]) => s.sort(() => 0), undefined].map(
        async (order) => {
          const { ports } = additiveGraph(equal, 3, order);
          return searchFloatNodes({ quantizable: 5, maxFloatFraction: 1 }, ports);
        },
      ),
    );
    for (const r of runs) expect(r.chosen.floatNodes).toEqual(['a', 'b']);
    expect(
      [
        { node: 'b', rise: 1 },
        { node: 'a', rise: 1 },
        { node: 'c', rise: 2 },
      ].sort(bySensitivity),
    ).toEqual([
      { node: 'c', rise: 2 },
      { node: 'a', rise: 1 },
      { node: 'b', rise: 1 },
    ]);
  });

  it('is a function of what evaluate and rank return: two runs give the same rounds', async () => {
    const a = await searchFloatNodes({ quantizable: 20, maxFloatFraction: 0.5 }, additiveGraph(geometric, 0.01).ports);
    const b = await searchFloatNodes({ quantizable: 20, maxFloatFraction: 0.5 }, additiveGraph(geometric, 0.01).ports);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.passed).toBe(true);
  });

  it('floatBound rounds the fraction of quantizable nodes down', () => {
    expect(floatBound(57, 0.2)).toBe(11);
    expect(floatBound(10, 0.2)).toBe(2);
    expect(floatBound(4, 0.2)).toBe(0);
  });
});
