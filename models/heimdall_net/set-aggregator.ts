/**
 * HeimdallNet's set aggregator (spec A1–A6): per-receiver encodings → one [B, 256] summary, pooled
 * three ways over the receivers (max, masked mean, quality-weighted sum). Padded slots are zeroed
 * before every pool and score −1e9 in the softmax, so with every slot padded each pool is 0 and the
 * weights are uniform, as in PyTorch. The row-wise layers run on the flat [B·N, ·] rows, the pools on
 * [B, N, ·]. It must not read tensor data.
 */
import { attr } from '../../onnx/ir';
import { gelu, scalar } from '../graph-ops';
import { concat, linear, linearNormGelu, op, reduce, type Layers } from './layers';
import { HIDDEN } from './weights';

/** Spec A5: the score of a padded slot, so the softmax gives it no weight. */
export const MASKED_SCORE = -1e9;

const P = 'set_aggregator';

/** The receiver mask in the forms the pools use. */
export interface SlotMask {
  /** mask as float, one per row: [B·N, 1]. */
  readonly rows: string;
  /** mask as float, [B, N, 1]. */
  readonly slots: string;
  /** mask as bool, [B, N, 1]. */
  readonly active: string;
}

/** A1–A6: `encodings` [B·N, 256] rows → agg [B, 256]; `toSlots(x, width)` reshapes rows to [B, N, width]. */
export function setAggregator(
  layers: Layers,
  encodings: string,
  mask: SlotMask,
  toSlots: (x: string, width: number) => string,
): string {
  const { b } = layers;
  const t = b.mul(P, linearNormGelu(layers, `${P}.receiver_transform`, encodings), mask.rows);
  const scores = linear(
    layers,
    `${P}.quality_net.2`,
    gelu(b, `${P}.quality_net.1`, linear(layers, `${P}.quality_net.0`, t)),
  );
  const slots = toSlots(t, HIDDEN);

  const maxed = reduce(b, 'ReduceMax', `${P}/max`, slots, [1], 0);
  const active = b.max(`${P}/mean`, [reduce(b, 'ReduceSum', `${P}/mean`, mask.slots, [1], 0), scalar(b, 'one', 1)]);
  const mean = b.div(`${P}/mean`, reduce(b, 'ReduceSum', `${P}/mean`, slots, [1], 0), active);
  const fill = scalar(b, 'masked_score', MASKED_SCORE);
  const masked = op(b, 'Where', `${P}/weighted`, [mask.active, toSlots(scores, 1), fill]);
  const weights = op(b, 'Softmax', `${P}/weighted`, [masked], { axis: attr.int(1) });
  const weighted = reduce(b, 'ReduceSum', `${P}/weighted`, b.mul(`${P}/weighted`, slots, weights), [1], 0);

  const pooled = concat(b, P, [maxed, mean, weighted], 1);
  return linearNormGelu(layers, `${P}.pool_combiner`, pooled);
}
