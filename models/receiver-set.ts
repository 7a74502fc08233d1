/**
 * The receiver axis of the set models (TriangulationModel, IQResNet18; shared/heimdall-models.md
 * sections 2 and 3): a bool mask [B, N] with PyTorch's key_padding_mask polarity (True = masked), the
 * runtime shapes read from it, and the pooling over receivers both models do after attention: masked
 * fills, the active count, the max with masked rows at −1e9 and the unbiased std (divides by N − 1,
 * so N = 1 gives NaN as PyTorch does). B and N stay symbolic: every size comes from Shape(mask).
 * Fills are Where, never a multiply, so a NaN row under the mask is replaced as masked_fill replaces it.
 * It must not know either model's widths, weights or input names.
 */
import type { GraphBuilder } from '../onnx/builder';
import { attr, ONNX_DTYPE_CODES } from '../onnx/ir';
import { int64s, op, reduce, scalar } from './graph-ops';

/** What PyTorch's masked_fill puts in masked rows before a max over receivers (spec T5, R7). */
export const MASKED_MAX_FILL = -1e9;

/** The mask and the values derived from it, each made once per graph. */
export interface ReceiverSet {
  /** bool [B, N], True = masked. */
  readonly mask: string;
  /** int64 [2]: (B, N) at run time. */
  readonly sizes: string;
}

const PREFIX = '/receivers';
const FLOAT32 = attr.int(ONNX_DTYPE_CODES.float32);

/** Makes a value once: `make` runs only if `name` is not yet defined, and must define it. */
function once(b: GraphBuilder, name: string, make: (output: string) => string): string {
  return b.has(name) ? name : make(name);
}

export function receiverSet(b: GraphBuilder, mask: string): ReceiverSet {
  return { mask, sizes: once(b, `${PREFIX}/sizes`, (out) => op(b, 'Shape', PREFIX, [mask], {}, out)) };
}

/** int64 [2 + k]: (B, N, ...trailing), the target of a Reshape from [B·N, ...] rows (row b·N + i). */
function setShape(b: GraphBuilder, set: ReceiverSet, trailing: readonly number[]): string {
  return once(b, `${PREFIX}/shape_${trailing.join('x')}`, (out) =>
    op(b, 'Concat', PREFIX, [set.sizes, int64s(b, trailing)], { axis: attr.int(0) }, out),
  );
}

/** Rows [B·N, ...] (row b·N + i) as [B, N, ...trailing]. */
export function toSet(
  b: GraphBuilder,
  scope: string,
  rows: string,
  set: ReceiverSet,
  trailing: readonly number[],
): string {
  return op(b, 'Reshape', scope, [rows, setShape(b, set, trailing)]);
}

/** The mask with size-1 axes inserted at `axes` (e.g. [2] gives [B, N, 1]), to broadcast against a tensor. */
export function maskView(b: GraphBuilder, set: ReceiverSet, axes: readonly number[]): string {
  return once(b, `${PREFIX}/mask_unsqueezed_${axes.join('_')}`, (out) =>
    op(b, 'Unsqueeze', PREFIX, [set.mask, int64s(b, axes)], {}, out),
  );
}

/** `x` with `value` where `view` (a maskView) is True: masked_fill. */
export function maskedFill(b: GraphBuilder, scope: string, x: string, view: string, value: number): string {
  const name = value === 0 ? 'zero' : `fill_${value}`;
  return op(b, 'Where', scope, [view, scalar(b, name, value), x]);
}

/** float32 [B, 1]: how many receivers are not masked (Σ of NOT mask). */
export function activeCount(b: GraphBuilder, set: ReceiverSet): string {
  return once(b, `${PREFIX}/active_count`, (out) => {
    const active = op(b, 'Cast', PREFIX, [op(b, 'Not', PREFIX, [set.mask])], { to: FLOAT32 });
    return reduce(b, 'ReduceSum', PREFIX, active, [1], 1, out);
  });
}

/** float32 [1]: N − 1, the unbiased std's divisor (0 when N = 1, so the std is NaN as in PyTorch). */
function receiversMinusOne(b: GraphBuilder, set: ReceiverSet): string {
  return once(b, `${PREFIX}/receivers_minus_one`, (out) => {
    const n = op(b, 'Gather', PREFIX, [set.sizes, int64s(b, [1])], { axis: attr.int(0) });
    const nFloat = op(b, 'Cast', PREFIX, [n], { to: FLOAT32 });
    return op(b, 'Sub', PREFIX, [nFloat, scalar(b, 'one', 1)], {}, out);
  });
}

/** The max over receivers (axis 1 of [B, N, C]) with masked rows at −1e9: [B, C]. */
export function maskedMax(b: GraphBuilder, scope: string, x: string, set: ReceiverSet): string {
  return reduce(b, 'ReduceMax', scope, maskedFill(b, scope, x, maskView(b, set, [2]), MASKED_MAX_FILL), [1], 0);
}

/**
 * torch's `std(dim=axis, unbiased=True)` where `axis` has N entries (the receivers, or the keys of
 * an attention map): sqrt(Σ (x − mean)² / (N − 1)), the axis removed.
 */
export function unbiasedStd(b: GraphBuilder, scope: string, x: string, axis: number, set: ReceiverSet): string {
  const centred = b.sub(scope, x, reduce(b, 'ReduceMean', scope, x, [axis], 1));
  const squares = reduce(b, 'ReduceSum', scope, b.mul(scope, centred, centred), [axis], 0);
  return b.sqrt(scope, b.div(scope, squares, receiversMinusOne(b, set)));
}
