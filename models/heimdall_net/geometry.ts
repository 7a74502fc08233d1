/**
 * HeimdallNet's geometry encoder (spec G1–G7): the receivers' pairwise offsets, encoded and pooled
 * over the active pairs into [B, 256]. The angle is (Δlat, Δlon)/hypot, which is (cos, sin) of
 * atan2(Δlon, Δlat), with (1, 0) where both are 0, as PyTorch's atan2(0, 0) = 0 gives: every diagonal
 * pair and every two coincident receivers. No division by 0 is ever made, so nothing non-finite can
 * reach the sums (torch's export divides Δlon by Δlat there: NaN for every input, spec 5). Only where
 * Δlat² + Δlon² underflows (offsets below ~1e-19, far under float32's resolution of coordinates near
 * 1) does this differ from atan2: it takes such a pair as coincident. Pairs are flat rows
 * [B·N·N, ·] for the encoders. It must not read tensor data.
 */
import { float32Tensor } from '../../onnx/ir';
import { gelu, scalar } from '../graph-ops';
import { concat, int64Constant, linear, linearNormGelu, op, reduce, slice, unsqueeze, type Layers } from './layers';
import { POSITION_DIMS } from './weights';

const P = 'geometry_encoder';
/** G5's widths: distance 64, angle 64, altitude 32. */
const PAIR_FEATURES = 160;

/** Linear `.0` → GELU → Linear `.2` of one of G5's encoders. */
function encoder(layers: Layers, name: string, x: string): string {
  const p = `${P}.${name}`;
  return linear(layers, `${p}.2`, gelu(layers.b, `${p}.1`, linear(layers, `${p}.0`, x)));
}

/**
 * G1–G7: `positions` [B, N, 3] and `mask` [B, N] as float → geo [B, 256]. `slotShape` is [B, N] (int64),
 * to lay the pair rows out as [B, N, N, 160].
 */
export function geometryEncoder(layers: Layers, positions: string, mask: string, slotShape: string): string {
  const { b } = layers;
  // G1: Δ[b, i, j] = p[b, j] − p[b, i], as rows.
  const delta = b.sub(
    `${P}/delta`,
    unsqueeze(b, `${P}/delta`, positions, [1]),
    unsqueeze(b, `${P}/delta`, positions, [2]),
  );
  const d = b.reshape(`${P}/delta`, delta, [-1, POSITION_DIMS]);
  // G2: Euclidean norm over the 3 components.
  const dist = b.sqrt(`${P}/distance`, reduce(b, 'ReduceSumSquare', `${P}/distance`, d, [1], 1));
  // G3: (cos θ, sin θ) of θ = atan2(Δ1, Δ0), without atan2.
  const planar = slice(b, `${P}/angle`, d, 1, 0, 2);
  const hypot = b.sqrt(`${P}/angle`, reduce(b, 'ReduceSumSquare', `${P}/angle`, planar, [1], 1));
  const coincident = op(b, 'Equal', `${P}/angle`, [hypot, scalar(b, 'zero', 0)]);
  const safe = op(b, 'Where', `${P}/angle`, [coincident, scalar(b, 'one', 1), hypot]);
  const east = b.initializer(float32Tensor(`${P}/angle_at_zero`, [2], [1, 0]));
  const angle = op(b, 'Where', `${P}/angle`, [coincident, east, b.div(`${P}/angle`, planar, safe)]);
  // G4.
  const alt = slice(b, `${P}/altitude`, d, 1, 2, 3);
  // G5.
  const features = concat(
    b,
    P,
    [
      encoder(layers, 'distance_encoder', dist),
      encoder(layers, 'angle_encoder', angle),
      encoder(layers, 'altitude_encoder', alt),
    ],
    1,
  );
  // G6: the mean over active pairs (mask[i] and mask[j]), diagonal included; 0 when none is active.
  const pairShape = concat(b, `${P}/pooled`, [slotShape, int64Constant(b, 'shapes', [-1, PAIR_FEATURES])], 0);
  const pairRows = op(b, 'Reshape', `${P}/pooled`, [features, pairShape]);
  const pairs = b.mul(
    `${P}/pooled`,
    unsqueeze(b, `${P}/pooled`, mask, [2, 3]),
    unsqueeze(b, `${P}/pooled`, mask, [1, 3]),
  );
  const total = reduce(b, 'ReduceSum', `${P}/pooled`, b.mul(`${P}/pooled`, pairRows, pairs), [1, 2], 0);
  const count = b.max(`${P}/pooled`, [reduce(b, 'ReduceSum', `${P}/pooled`, pairs, [1, 2], 0), scalar(b, 'one', 1)]);
  // G7.
  return linearNormGelu(layers, `${P}.geometry_aggregator`, b.div(`${P}/pooled`, total, count));
}
