/**
 * Streaming error statistics between a model's output and a reference: mean and max absolute error,
 * max relative error, and counts of non-finite values on either side. Pure and incremental (fed batch
 * by batch), so memory stays bounded whatever N is.
 */

/**
 * Floor of the relative error's denominator: |got − want| / max(|want|, floor). Without it a reference
 * value of 1e-12 makes any rounding look like a 100% error; 1e-6 is far below the outputs' scale
 * (regression outputs such as positions are O(0.01–10)) and still flags real relative drift.
 */
export const RELATIVE_ERROR_FLOOR = 1e-6;

export interface OutputErrors {
  /** Elements compared. */
  readonly count: number;
  readonly mae: number;
  readonly maxAbs: number;
  readonly maxRel: number;
  /** Flat index (row-major over [N, ...]) of the largest absolute error, -1 when count is 0. */
  readonly maxAbsIndex: number;
  /** NaN/Inf in the model's output. */
  readonly nonFiniteOutputs: number;
  /** NaN/Inf in the reference (a broken reference, not a model error). */
  readonly nonFiniteReference: number;
}

export class ErrorAccumulator {
  private count = 0;
  private sumAbs = 0;
  private maxAbs = 0;
  private maxRel = 0;
  private maxAbsIndex = -1;
  private nonFiniteOutputs = 0;
  private nonFiniteReference = 0;

  /** Adds one batch; `got` and `want` are the same elements in the same order. */
  add(got: ArrayLike<number>, want: ArrayLike<number>): void {
    if (got.length !== want.length)
      throw new Error(`internal: batch of ${got.length} outputs against ${want.length} reference values`);
    for (let i = 0; i < got.length; i++) {
      const g = got[i] as number;
      const w = want[i] as number;
      if (!Number.isFinite(w)) {
        this.nonFiniteReference++;
        continue;
      }
      if (!Number.isFinite(g)) {
        this.nonFiniteOutputs++;
        continue;
      }
      const abs = Math.abs(g - w);
      this.sumAbs += abs;
      if (abs > this.maxAbs) {
        this.maxAbs = abs;
        this.maxAbsIndex = this.count + i;
      }
      const rel = abs / Math.max(Math.abs(w), RELATIVE_ERROR_FLOOR);
      if (rel > this.maxRel) this.maxRel = rel;
    }
    this.count += got.length;
  }

  result(): OutputErrors {
    const finite = this.count - this.nonFiniteOutputs - this.nonFiniteReference;
    return {
      count: this.count,
      mae: finite > 0 ? this.sumAbs / finite : 0,
      maxAbs: this.maxAbs,
      maxRel: this.maxRel,
      maxAbsIndex: this.maxAbsIndex,
      nonFiniteOutputs: this.nonFiniteOutputs,
      nonFiniteReference: this.nonFiniteReference,
    };
  }
}

/**
 * The errors of two passes over consecutive elements as one: `b`'s elements follow `a`'s (its
 * `maxAbsIndex` is shifted by `a.count`). Used to read the cases of a reference as one pass.
 */
export function concatErrors(a: OutputErrors, b: OutputErrors): OutputErrors {
  const finite = (e: OutputErrors) => e.count - e.nonFiniteOutputs - e.nonFiniteReference;
  const finiteBoth = finite(a) + finite(b);
  const bWins = b.maxAbs > a.maxAbs;
  return {
    count: a.count + b.count,
    mae: finiteBoth > 0 ? (a.mae * finite(a) + b.mae * finite(b)) / finiteBoth : 0,
    maxAbs: bWins ? b.maxAbs : a.maxAbs,
    maxRel: Math.max(a.maxRel, b.maxRel),
    maxAbsIndex: bWins ? a.count + b.maxAbsIndex : a.maxAbsIndex,
    nonFiniteOutputs: a.nonFiniteOutputs + b.nonFiniteOutputs,
    nonFiniteReference: a.nonFiniteReference + b.nonFiniteReference,
  };
}

/**
 * The worst of several passes over the same elements, statistic by statistic (the largest count,
 * MAE, max abs error with its index, max relative error and NaN/Inf counts): what one pass's figures
 * mean, at their worst over the ways the batch was split.
 */
export function worstErrors(passes: readonly OutputErrors[]): OutputErrors {
  const [first, ...rest] = passes;
  if (first === undefined) throw new Error('internal: worstErrors of no passes');
  return rest.reduce(
    (w, e) => ({
      count: Math.max(w.count, e.count),
      mae: Math.max(w.mae, e.mae),
      maxAbs: e.maxAbs > w.maxAbs ? e.maxAbs : w.maxAbs,
      maxRel: Math.max(w.maxRel, e.maxRel),
      maxAbsIndex: e.maxAbs > w.maxAbs ? e.maxAbsIndex : w.maxAbsIndex,
      nonFiniteOutputs: Math.max(w.nonFiniteOutputs, e.nonFiniteOutputs),
      nonFiniteReference: Math.max(w.nonFiniteReference, e.nonFiniteReference),
    }),
    first,
  );
}
