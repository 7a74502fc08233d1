/**
 * A parity report as one number: the worst error over every case, split and output as a multiple of
 * its tolerance (the larger of MAE ÷ the MAE tolerance and max ÷ the max tolerance), so ≤ 1 passes.
 * What the accuracy-aware int8 search compares graphs by (quantize/float-fallback-search.ts). Pure.
 */
import type { ParityReport } from './parity-report';

export interface GateEvaluation {
  readonly passed: boolean;
  /** ∞ for a failure no tolerance measures: a run that failed, NaN/Inf outputs, an exact output that differed. */
  readonly score: number;
  /** The worst MAE and max absolute error of any output (the report's per-output figures). */
  readonly mae: number;
  readonly maxAbs: number;
}

export function gateEvaluation(report: ParityReport): GateEvaluation {
  const t = report.tolerances;
  let score = 0;
  for (const c of report.cases ?? [])
    for (const split of c.splits) {
      if (split.error !== undefined) score = Number.POSITIVE_INFINITY;
      for (const e of Object.values(split.outputs)) {
        if (e.nonFiniteOutputs > 0) score = Number.POSITIVE_INFINITY;
        score = Math.max(score, e.mae / t.mae, e.maxAbs / t.maxAbs);
      }
    }
  // Failed with every error within its tolerance: an exactly compared output differed.
  if (!report.passed && score <= 1) score = Number.POSITIVE_INFINITY;
  const outputs = Object.values(report.outputs);
  return {
    passed: report.passed,
    score,
    mae: Math.max(0, ...outputs.map((e) => e.mae)),
    maxAbs: Math.max(0, ...outputs.map((e) => e.maxAbs)),
  };
}
