/**
 * A diagnosis: the layer errors judged against a tolerance (MAE and max abs error, as parity's), the
 * first tensor in topological order above it (with its node, op and PyTorch module path), the error
 * of each layer, and what could not be matched. A tensor is above the tolerance when its MAE or its
 * max abs error is, or when the candidate has NaN/Inf where the baseline is finite.
 *
 * Must not: run graphs (layer-errors.ts, reference-intermediates.ts) or print (the CLI formats it).
 */
import { DEFAULT_TOLERANCES } from '../common/export-contract';
import type { TensorError } from './tensor-errors';

export interface Tolerances {
  readonly mae: number;
  readonly maxAbs: number;
}

export interface JudgedTensor extends TensorError {
  readonly aboveTolerance: boolean;
}

export interface Diagnosis {
  readonly candidate: string;
  /** The baseline graph's path, or the reference intermediates' file. */
  readonly baseline: string;
  readonly baselineKind: 'graph' | 'reference intermediates';
  readonly cases: readonly string[];
  readonly tolerances: Tolerances;
  /** The first tensor (topological order) above the tolerance; absent when none is. */
  readonly firstDivergence?: JudgedTensor;
  /** Every compared tensor, in topological order. */
  readonly tensors: readonly JudgedTensor[];
  /** Per layer (module path): its output, the last of its tensors compared, in topological order. */
  readonly layers: readonly JudgedTensor[];
  readonly unmatched: readonly string[];
  readonly seconds: number;
}

export function aboveTolerance(e: TensorError, t: Tolerances): boolean {
  return e.nonFinite > 0 || !(e.mae <= t.mae) || !(e.maxAbs <= t.maxAbs);
}

export function judge(
  errors: readonly TensorError[],
  tolerances: Tolerances = DEFAULT_TOLERANCES,
): Pick<Diagnosis, 'firstDivergence' | 'tensors' | 'layers'> {
  const tensors = [...errors]
    .sort((a, b) => a.depth - b.depth)
    .map((e) => ({ ...e, aboveTolerance: aboveTolerance(e, tolerances) }));
  const lastOfLayer = new Map<string, JudgedTensor>();
  for (const e of tensors) lastOfLayer.set(e.modulePath, e);
  const layers = [...lastOfLayer.values()].sort((a, b) => a.depth - b.depth);
  const firstDivergence = tensors.find((e) => e.aboveTolerance);
  return { ...(firstDivergence ? { firstDivergence } : {}), tensors, layers };
}

/** One line: where the graphs part, or that they do not. */
export function divergenceLine(d: Diagnosis): string {
  const f = d.firstDivergence;
  if (f === undefined)
    return `no divergence: all ${d.tensors.length} compared tensors within MAE ${d.tolerances.mae}, max abs ${d.tolerances.maxAbs}`;
  const why =
    f.nonFinite > 0
      ? `${f.nonFinite} NaN/Inf`
      : `MAE ${f.mae.toExponential(3)}, max abs ${f.maxAbs.toExponential(3)} (tolerance ${d.tolerances.mae}, ${d.tolerances.maxAbs})`;
  return `first divergence at \`${f.modulePath || f.node}\`: node ${f.node} (${f.op}), tensor ${f.tensor}, depth ${f.depth}: ${why}`;
}

/**
 * The first divergence as a failure message says it, with what exceeded the tolerance:
 * first divergence at `backbone.0.2.1` (Conv node `backbone.0.2.1/Conv`), MAE 9.264e-1 > 1e-5, max abs 8.141e+0 > 1e-4
 * Undefined when no tensor is above the tolerance.
 */
export function divergenceFinding(d: Pick<Diagnosis, 'firstDivergence' | 'tolerances'>): string | undefined {
  const f = d.firstDivergence;
  if (f === undefined) return undefined;
  const t = d.tolerances;
  const over = [
    ...(f.nonFinite > 0 ? [`${f.nonFinite} NaN/Inf where the baseline is finite`] : []),
    ...(!(f.mae <= t.mae) ? [`MAE ${f.mae.toExponential(3)} > ${t.mae}`] : []),
    ...(!(f.maxAbs <= t.maxAbs) ? [`max abs ${f.maxAbs.toExponential(3)} > ${t.maxAbs}`] : []),
  ];
  return `first divergence at \`${f.modulePath || f.node}\` (${f.op} node \`${f.node}\`), ${over.join(', ')}`;
}
