/**
 * What an accuracy-aware search has done so far, in a form an activity heartbeat carries (plain JSON):
 * each round's result and each ranking, by the set of nodes kept float. The search is deterministic
 * (float-fallback-search.ts), so a retried quantize activity handed its last heartbeat's memo asks for
 * the same rounds and rankings again, and those it finds here are not redone: a worker lost after
 * eight rounds of convnext_large costs the rounds after the eighth, not all of them.
 *
 * A memo is of one search: its `basis` (the caller's description of the graph, the calibration and the
 * settings) must equal the caller's, or the memo is not used. Pure.
 */
import { bySensitivity, type GateEvaluation, type NodeSensitivity } from './float-fallback-search';

/** One round's result, without its graph: the graph is written again when the search keeps it. */
export interface MemoRound {
  /** The nodes kept float, sorted. */
  readonly floatNodes: readonly string[];
  readonly passed: boolean;
  /** Worst error ÷ tolerance; null when infinite (JSON has no Infinity). */
  readonly score: number | null;
  readonly mae: number | null;
  readonly maxAbs: number | null;
  readonly sha256: string;
}

/** One ranking of the graph with `floatNodes` kept float, most sensitive first, cut to what a search can take. */
export interface MemoRanking {
  readonly floatNodes: readonly string[];
  readonly ranked: readonly NodeSensitivity[];
}

export interface SearchMemo {
  readonly basis: string;
  readonly rounds: readonly MemoRound[];
  readonly rankings: readonly MemoRanking[];
}

/** A set of float nodes as one key, whatever their order (the graph depends on the set only). */
export const floatSetKey = (floatNodes: readonly string[]): string => [...floatNodes].sort().join('\n');
/** A number JSON can carry as it is: non-finite values become null. */
export const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** A memo being written by one search, seeded with a retried attempt's when its basis is this search's. */
export class SearchMemoBook {
  private readonly rounds = new Map<string, MemoRound>();
  private readonly rankings = new Map<string, MemoRanking>();

  constructor(
    private readonly basis: string,
    /** The most nodes the search keeps float: a ranking is cut to that many beyond its own float set. */
    private readonly maxFloat: number,
    seed?: SearchMemo,
  ) {
    if (seed === undefined || seed.basis !== basis) return;
    for (const r of seed.rounds) this.rounds.set(floatSetKey(r.floatNodes), r);
    for (const r of seed.rankings) this.rankings.set(floatSetKey(r.floatNodes), r);
  }

  /** The recorded result of the round with these nodes float, as the search reads one. */
  round(floatNodes: readonly string[]): (GateEvaluation & { readonly sha256: string }) | undefined {
    const r = this.rounds.get(floatSetKey(floatNodes));
    if (r === undefined) return undefined;
    return {
      passed: r.passed,
      score: r.score ?? Number.POSITIVE_INFINITY,
      mae: r.mae ?? Number.NaN,
      maxAbs: r.maxAbs ?? Number.NaN,
      sha256: r.sha256,
    };
  }

  /** Records a round; one whose score is NaN is not (null stands for +Infinity only), and is redone after a retry. */
  recordRound(floatNodes: readonly string[], evaluation: GateEvaluation, sha256: string): void {
    if (Number.isNaN(evaluation.score)) return;
    this.rounds.set(floatSetKey(floatNodes), {
      floatNodes: [...floatNodes].sort(),
      passed: evaluation.passed,
      score: finiteOrNull(evaluation.score),
      mae: finiteOrNull(evaluation.mae),
      maxAbs: finiteOrNull(evaluation.maxAbs),
      sha256,
    });
  }

  ranking(floatNodes: readonly string[]): readonly NodeSensitivity[] | undefined {
    return this.rankings.get(floatSetKey(floatNodes))?.ranked;
  }

  /**
   * Records a ranking, most sensitive first and cut after the most a search can take from it (its own
   * float nodes may be among them, and the search skips those), so a heartbeat stays small. One with
   * a rise that is not finite is not recorded (JSON would not give it back), and is redone after a retry.
   */
  recordRanking(floatNodes: readonly string[], ranked: readonly NodeSensitivity[]): void {
    if (!ranked.every((r) => Number.isFinite(r.rise))) return;
    this.rankings.set(floatSetKey(floatNodes), {
      floatNodes: [...floatNodes].sort(),
      ranked: [...ranked].sort(bySensitivity).slice(0, this.maxFloat + floatNodes.length),
    });
  }

  memo(): SearchMemo {
    return { basis: this.basis, rounds: [...this.rounds.values()], rankings: [...this.rankings.values()] };
  }
}
