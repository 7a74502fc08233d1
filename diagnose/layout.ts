/**
 * A baseline tensor in the candidate's layout, when the two hold the same elements in another axis
 * order: PyTorch's ConvNeXt block works channels-last ([N, H, W, C]) where our graph keeps channels
 * first, and `avgpool` keeps [N, C, 1, 1] where the graph has flattened to [N, C]. Axes of size 1 are
 * dropped first; the rest must match by size one to one (no size twice), so the axis order is the
 * only one possible. Anything else is not aligned (the pair is reported, not compared).
 *
 * Must not: guess between two axis orders that fit.
 */

export function alignLayout(
  values: ArrayLike<number>,
  from: readonly number[],
  to: readonly number[],
): ArrayLike<number> | undefined {
  const a = to.filter((d) => d !== 1);
  const b = from.filter((d) => d !== 1);
  if (a.reduce((x, d) => x * d, 1) !== b.reduce((x, d) => x * d, 1)) return undefined;
  if (a.length !== b.length) return mergesRuns(a, b) || mergesRuns(b, a) ? values : undefined;
  if (a.every((d, i) => d === b[i])) return values;
  if (new Set(a).size !== a.length) return undefined;
  // perm[k]: the axis of `b` that the candidate's axis k is.
  const perm = a.map((d) => b.indexOf(d));
  if (perm.some((p) => p < 0)) return undefined;
  const strides = b.map((_, i) => b.slice(i + 1).reduce((x, d) => x * d, 1));
  const out = new Float32Array(values.length);
  const index = a.map(() => 0);
  let source = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = values[source] as number;
    // Next candidate index (row-major), moving the source offset along.
    for (let k = a.length - 1; k >= 0; k--) {
      const stride = strides[perm[k] as number] as number;
      if ((index[k] as number) + 1 < (a[k] as number)) {
        index[k] = (index[k] as number) + 1;
        source += stride;
        break;
      }
      source -= (index[k] as number) * stride;
      index[k] = 0;
    }
  }
  return out;
}

/**
 * Whether each axis of `coarse` is a run of consecutive axes of `fine` (their product), in order:
 * the sizes' running products of `coarse` are among those of `fine`.
 */
function mergesRuns(coarse: readonly number[], fine: readonly number[]): boolean {
  const ends = new Set<number>();
  let p = 1;
  for (const d of fine) ends.add((p *= d));
  p = 1;
  return coarse.every((d) => ends.has((p *= d)));
}
