/**
 * A baseline tensor in the candidate's layout, when the two hold the same elements in another axis
 * order: PyTorch's ConvNeXt block works channels-last ([N, H, W, C]) where our graph keeps channels
 * first, and `avgpool` keeps [N, C, 1, 1] where the graph has flattened to [N, C]. Axes of size 1 are
 * dropped first; the rest must match by size one to one (no size twice), so the axis order is the
 * only one possible. Or the two hold the same rows stacked differently: a graph that runs per
 * receiver pair on rows ([B·N·N, 32], our HeimdallNet's geometry encoder) against one that keeps
 * the axes ([B, N, N, 32], torch.onnx's). The last axis must be the same and the leading axes of
 * one must merge runs of the other's (a reshape, which moves no element); a merge that reaches the
 * last axis ([N, H, W, C] against [N, C·H·W]) could hide another axis order, and is refused.
 * Anything else is not aligned (the pair is reported, not compared).
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
  if (a.length !== b.length)
    // Raw shapes too: a last axis of size 1 ([B, N, 1] and [B·N, 1]) is dropped from a and b.
    return [a, to].some((x) => [b, from].some((y) => stacksRows(x, y) || stacksRows(y, x))) ? values : undefined;
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
 * Whether `coarse` is `fine` with runs of its leading axes merged and its last axis kept: the running
 * products of `coarse`'s leading sizes (other than 1) are among those of `fine`'s.
 */
function stacksRows(coarse: readonly number[], fine: readonly number[]): boolean {
  if (coarse.length === 0 || coarse.at(-1) !== fine.at(-1)) return false;
  const ends = new Set<number>();
  let p = 1;
  for (const d of fine.slice(0, -1)) ends.add((p *= d));
  p = 1;
  return coarse
    .slice(0, -1)
    .filter((d) => d !== 1)
    .every((d) => ends.has((p *= d)));
}
