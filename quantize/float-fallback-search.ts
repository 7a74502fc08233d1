/**
 * The accuracy-aware int8 search: which quantized nodes to keep float so the int8 graph meets its
 * parity gate, keeping as few float as it can find in few rounds. A round is one int8 graph written
 * with a set of nodes kept float and checked against the gate (`evaluate`); a ranking orders the
 * nodes still quantized by how much error each adds (`rank`: per-layer error, node-sensitivity.ts).
 *
 * Schedule: plain int8 first. While it fails, rank the nodes of the last graph tried and keep the
 * next 1, 2, 4, … most sensitive float (re-ranked after every round: keeping a node float changes
 * what its successors receive), never more than the bound. When a step passes, bisect inside that
 * step's nodes for the shortest prefix of its ranking that still passes. k nodes are found in about
 * 2·log2(k) + 1 rounds and log2(k) + 1 rankings; the graph kept always passed its own round.
 *
 * Deterministic: the choices depend only on what `evaluate` and `rank` return (ties in sensitivity
 * broken by node name), never on timing. Pure: the I/O is in the two functions it is given.
 */

/** One int8 graph's result against the gate. */
export interface GateEvaluation {
  readonly passed: boolean;
  /**
   * The worst error over every output, case and split, as a multiple of its tolerance (the larger of
   * MAE ÷ mae tolerance and max ÷ maxAbs tolerance): ≤ 1 passes. What "best" compares.
   */
  readonly score: number;
  /** The worst MAE and max absolute error over every output, case and split (for the report). */
  readonly mae: number;
  readonly maxAbs: number;
}

/** One quantized node's sensitivity: the error it adds (local rise, node-sensitivity.ts). */
export interface NodeSensitivity {
  readonly node: string;
  readonly rise: number;
}

export interface SearchPorts<E extends GateEvaluation = GateEvaluation> {
  /** Writes the int8 graph with `floatNodes` kept float and checks it against the gate. */
  evaluate(floatNodes: readonly string[]): Promise<E>;
  /** The nodes still quantized in the graph of `floatNodes`, with their sensitivity (any order). */
  rank(floatNodes: readonly string[]): Promise<readonly NodeSensitivity[]>;
}

export interface SearchRound<E extends GateEvaluation = GateEvaluation> {
  /** The nodes kept float in this round's graph, in the order they were chosen. */
  readonly floatNodes: readonly string[];
  readonly evaluation: E;
  /** `plain` (nothing kept float), `grow` (a step of the schedule) or `bisect` (a prefix of the passing step). */
  readonly kind: 'plain' | 'grow' | 'bisect';
}

export interface SearchResult<E extends GateEvaluation = GateEvaluation> {
  readonly passed: boolean;
  /** The graph to keep: the passing round with the fewest float nodes, else the best (lowest score) round. */
  readonly chosen: SearchRound<E>;
  readonly rounds: readonly SearchRound<E>[];
  readonly rankings: number;
  /** The most nodes the search could keep float (⌊maxFloatFraction × quantizable⌋). */
  readonly maxFloat: number;
  /** Why it stopped. */
  readonly stop: 'plain passed' | 'passed' | 'bound' | 'no candidates';
}

/** The search's record: in the quantization report (`accuracySearch`) and the stored report. */
export interface FloatFallbackReport {
  readonly gate: { readonly mae: number; readonly maxAbs: number };
  readonly maxFloatFraction: number;
  /** Nodes the plan would quantize (the graph's float scopes aside). */
  readonly quantizable: number;
  /** The most the search could keep float: ⌊maxFloatFraction × quantizable⌋. */
  readonly maxFloat: number;
  /** Whether the graph written meets the gate. */
  readonly passed: boolean;
  readonly stop: SearchResult['stop'];
  /** The nodes the written graph keeps float, most sensitive first, with their local rise when chosen. */
  readonly floatNodes: readonly { readonly node: string; readonly rise: number | null }[];
  /** The written graph's worst errors over every output, case and split. */
  readonly reached: { readonly mae: number; readonly maxAbs: number; readonly score: number | null };
  readonly rounds: readonly {
    readonly kind: 'plain' | 'grow' | 'bisect';
    readonly floatNodes: number;
    readonly passed: boolean;
    readonly mae: number;
    readonly maxAbs: number;
    /** Worst error ÷ tolerance; null when infinite (NaN outputs, a failed run). */
    readonly score: number | null;
    readonly sha256: string;
  }[];
  readonly rankings: number;
  /** Rounds and rankings not redone: taken from the memo of an earlier attempt of a retried activity (search-memo.ts). */
  readonly replayed?: { readonly rounds: number; readonly rankings: number };
  readonly seconds: number;
}

/** Most sensitive first; equal rises in node-name order (so the order never depends on input order). */
export function bySensitivity(a: NodeSensitivity, b: NodeSensitivity): number {
  if (a.rise !== b.rise) return b.rise > a.rise ? 1 : -1;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/** The most nodes kept float: maxFloatFraction of the quantizable nodes, rounded down. */
export function floatBound(quantizable: number, maxFloatFraction: number): number {
  return Math.floor(quantizable * maxFloatFraction + 1e-9);
}

/** Lower score is better; at equal scores the round with fewer float nodes, then the earlier. */
function better<E extends GateEvaluation>(a: SearchRound<E>, b: SearchRound<E>): boolean {
  if (a.evaluation.score !== b.evaluation.score) return a.evaluation.score < b.evaluation.score;
  return a.floatNodes.length < b.floatNodes.length;
}

export async function searchFloatNodes<E extends GateEvaluation>(
  settings: { readonly quantizable: number; readonly maxFloatFraction: number },
  ports: SearchPorts<E>,
): Promise<SearchResult<E>> {
  const maxFloat = floatBound(settings.quantizable, settings.maxFloatFraction);
  const rounds: SearchRound<E>[] = [];
  let rankings = 0;
  const tryRound = async (floatNodes: readonly string[], kind: SearchRound['kind']): Promise<SearchRound<E>> => {
    const round = { floatNodes, kind, evaluation: await ports.evaluate(floatNodes) };
    rounds.push(round);
    return round;
  };
  const best = (): SearchRound<E> => rounds.reduce((a, b) => (better(b, a) ? b : a));
  const result = (passed: boolean, chosen: SearchRound<E>, stop: SearchResult['stop']): SearchResult<E> => ({
    passed,
    chosen,
    rounds,
    rankings,
    maxFloat,
    stop,
  });

  const plain = await tryRound([], 'plain');
  if (plain.evaluation.passed) return result(true, plain, 'plain passed');

  let kept: readonly string[] = [];
  for (let step = 1; kept.length < maxFloat; step *= 2) {
    const still = new Set(kept);
    rankings += 1;
    const ranked = [...(await ports.rank(kept))].filter((s) => !still.has(s.node)).sort(bySensitivity);
    const take = Math.min(step, maxFloat - kept.length, ranked.length);
    if (take === 0) return result(false, best(), 'no candidates');
    const added = ranked.slice(0, take).map((s) => s.node);
    const grown = await tryRound([...kept, ...added], 'grow');
    if (grown.evaluation.passed) {
      // The step before (`kept`) failed and this one passed: the shortest passing prefix of `added`.
      let lo = 0;
      let passing = grown;
      let hi = take;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        const round = await tryRound([...kept, ...added.slice(0, mid)], 'bisect');
        if (round.evaluation.passed) {
          hi = mid;
          passing = round;
        } else lo = mid;
      }
      return result(true, passing, 'passed');
    }
    kept = grown.floatNodes;
  }
  return result(false, best(), 'bound');
}
