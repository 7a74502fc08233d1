/**
 * The receiver axis of the set models (TriangulationModel, IQResNet18; shared/heimdall-models.md
 * sections 2 and 3): a bool mask [B, N] with PyTorch's key_padding_mask polarity (True = masked), the
 * runtime shapes read from it, and the pooling over receivers both models do after attention: masked
 * fills, the active count, the max with masked rows at −1e9 and the unbiased std (divides by N − 1,
 * so N = 1 gives NaN as PyTorch does). B and N stay symbolic: every size comes from Shape(mask).
 * Fills are Where, never a multiply, so a NaN row under the mask is replaced as masked_fill replaces it.
 *
 * Around the attention, rows are slot-major: [N·B, C], row i·B + b is receiver i of sample b, and
 * [N, B, C] is the same tensor reshaped (what PyTorch's MultiheadAttention works in internally). That
 * order lets onnxruntime fold the per-head transposes into its batched MatMul (attention.ts) instead
 * of materialising them; the pooling then reduces over axis 0.
 * It must not know either model's widths, weights or input names.
 */
import type { GraphBuilder } from '../onnx/builder';
import { attr, ONNX_DTYPE_CODES } from '../onnx/ir';
import { int64s, op, reduce, scalar } from './graph-ops';

/** What PyTorch's masked_fill puts in masked rows before a max over receivers (spec T5, R7). */
export const MASKED_MAX_FILL = -1e9;

/** The mask in both orders and the sizes read from it, each made once per graph. */
export interface ReceiverSet {
  /** bool [B, N], True = masked. */
  readonly mask: string;
  /** bool [N, B]: the mask slot-major. */
  readonly slotMask: string;
  /** int64 [1]: N at run time. */
  readonly receivers: string;
}

const PREFIX = '/receivers';
const FLOAT32 = attr.int(ONNX_DTYPE_CODES.float32);

/** Makes a value once: `make` runs only if `name` is not yet defined, and must define it. */
function once(b: GraphBuilder, name: string, make: (output: string) => string): string {
  return b.has(name) ? name : make(name);
}

export function receiverSet(b: GraphBuilder, mask: string): ReceiverSet {
  const slotMask = once(b, `${PREFIX}/slot_mask`, (out) => b.transpose(PREFIX, mask, [1, 0], { output: out }));
  // Shape's start/end attributes exist from opset 15; before, Shape then Gather.
  const receivers = once(b, `${PREFIX}/receivers`, (out) =>
    b.opset >= 15
      ? op(b, 'Shape', PREFIX, [mask], { start: attr.int(1), end: attr.int(2) }, out)
      : op(b, 'Gather', PREFIX, [op(b, 'Shape', PREFIX, [mask]), int64s(b, [1])], { axis: attr.int(0) }, out),
  );
  return { mask, slotMask, receivers };
}

/** int64 [2 + k]: (N, -1, ...trailing), the target of a Reshape from slot-major rows [N·B, ...] to [N, B, ...]. */
function slotShape(b: GraphBuilder, set: ReceiverSet, trailing: readonly number[]): string {
  return once(b, `${PREFIX}/slot_shape_${trailing.join('x')}`, (out) =>
    op(b, 'Concat', PREFIX, [set.receivers, int64s(b, [-1, ...trailing])], { axis: attr.int(0) }, out),
  );
}

/** Slot-major rows [N·B, ...] as [N, B, ...trailing]. */
export function toSlots(
  b: GraphBuilder,
  scope: string,
  rows: string,
  set: ReceiverSet,
  trailing: readonly number[],
): string {
  return op(b, 'Reshape', scope, [rows, slotShape(b, set, trailing)]);
}

/** Sample-major rows [B·N, C] (row b·N + i, as a [B, N, ...] input flattens) reordered slot-major, [N·B, C]. */
export function slotMajorRows(b: GraphBuilder, scope: string, rows: string, set: ReceiverSet, width: number): string {
  const sampleShape = once(b, `${PREFIX}/sample_shape_${width}`, (out) =>
    op(b, 'Concat', PREFIX, [int64s(b, [-1]), set.receivers, int64s(b, [width])], { axis: attr.int(0) }, out),
  );
  const bySample = op(b, 'Reshape', scope, [rows, sampleShape]);
  return b.reshape(scope, b.transpose(scope, bySample, [1, 0, 2]), [-1, width]);
}

/**
 * A mask with size-1 axes inserted at `axes`, to broadcast against a tensor: of `set.mask` ([B, N];
 * [1, 2] gives [B, 1, 1, N] for attention scores) or of `set.slotMask` ([N, B]; [2] gives [N, B, 1]).
 */
export function maskView(b: GraphBuilder, mask: string, axes: readonly number[]): string {
  return once(b, `${mask}_unsqueezed_${axes.join('_')}`, (out) =>
    op(b, 'Unsqueeze', PREFIX, [mask, int64s(b, axes)], {}, out),
  );
}

/** `x` with `value` where `view` (a maskView) is True: masked_fill. */
export function maskedFill(b: GraphBuilder, scope: string, x: string, view: string, value: number): string {
  return op(b, 'Where', scope, [view, scalar(b, value === 0 ? 'zero' : `fill_${value}`, value), x]);
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
    const nFloat = op(b, 'Cast', PREFIX, [set.receivers], { to: FLOAT32 });
    return op(b, 'Sub', PREFIX, [nFloat, scalar(b, 'one', 1)], {}, out);
  });
}

/** Slot-major [N, B, C] with masked receivers' rows set to `value`. */
export function maskedRows(b: GraphBuilder, scope: string, slots: string, set: ReceiverSet, value: number): string {
  return maskedFill(b, scope, slots, maskView(b, set.slotMask, [2]), value);
}

/** The max over receivers of slot-major [N, B, C] with masked rows at −1e9: [B, C]. */
export function maskedMax(b: GraphBuilder, scope: string, slots: string, set: ReceiverSet): string {
  return reduce(b, 'ReduceMax', scope, maskedRows(b, scope, slots, set, MASKED_MAX_FILL), [0], 0);
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
