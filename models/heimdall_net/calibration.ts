/**
 * HeimdallNet's per-receiver calibration (spec H6): each row h ← GELU(LN_k(Linear_k(h))) with k that
 * row's receiver id, as a gather by id from the stacked layers: no id is baked into the graph, and an
 * id is any int64 in [0, R) at run time. It must not read tensor data.
 */
import { attr, float32Tensor } from '../../onnx/ir';
import { gelu, layerNormLastAxis } from '../graph-ops';
import { stacked } from './folds';
import { int64Constant, LAYER_NORM_EPSILON, op, unsqueeze, type Layers } from './layers';
import { CALIBRATION, HIDDEN } from './weights';

/** How the per-row Linear is computed (see `calibrate` and `calibrationForm`). */
export type CalibrationForm = 'gather-weights' | 'all-layers';

/**
 * Up to this R, one Gemm against all R layers beats gathering each row's 256×256 matrix. Measured on
 * H6 alone (onnxruntime 1.32, 2 threads, runs interleaved, median ms, gather-weights / all-layers) at
 * 7 rows (batch 1, N = 7) and 224 rows (batch 32): R = 10: 0.115 / 0.122 and 15.9 / 6.1; R = 20:
 * 0.138 / 0.251 and 15.5 / 7.9; R = 40: 0.268 / 0.814 and 20.6 / 16.3; R = 80: 0.296 / 2.18 and
 * 32.0 / 46.1 (GatherND instead of GatherElements: within 5%, once 40% slower). The Gemm's cost grows
 * with R, the gather's with the rows only (it copies 256 KB a row); up to 24 the Gemm costs at most a
 * tenth of a millisecond or so at batch 1 and saves several at batch 32. The whole graph at R = 10
 * (N = 7, L = 10000, `onnx-export bench --baseline`, all-layers ÷ gather-weights): batch 1 1.037
 * [1.009–1.084], batch 32 0.887 [0.854–0.911]: about 0.1 ms lost at batch 1 for 7 ms won at 32.
 */
export const ALL_LAYERS_MAX_RECEIVERS = 24;

export function calibrationForm(maxReceivers: number): CalibrationForm {
  return maxReceivers <= ALL_LAYERS_MAX_RECEIVERS ? 'all-layers' : 'gather-weights';
}

/** Per-row LayerNorm γ and β gathered by id: LN without affine, then ·γ[id] + β[id]. */
function layerNormById(layers: Layers, r: number, x: string, ids: string): string {
  const { b, weights } = layers;
  const keys = (p: string) => Array.from({ length: r }, (_, k) => `${CALIBRATION}.${k}.1.${p}`);
  const gamma = b.initializer(stacked(weights, `${CALIBRATION}.*.1.weight`, keys('weight'), [HIDDEN]));
  const beta = b.initializer(stacked(weights, `${CALIBRATION}.*.1.bias`, keys('bias'), [HIDDEN]));
  const ones = b.initializer(float32Tensor(`${CALIBRATION}.*.1/ones`, [HIDDEN], new Array<number>(HIDDEN).fill(1)));
  const zeros = b.initializer(float32Tensor(`${CALIBRATION}.*.1/zeros`, [HIDDEN], new Array<number>(HIDDEN).fill(0)));
  const scope = `${CALIBRATION}.*.1`;
  const normed = layerNormLastAxis(b, scope, x, ones, zeros, LAYER_NORM_EPSILON);
  const scaled = b.mul(scope, normed, op(b, 'Gather', `${scope}.weight`, [gamma, ids]));
  return b.add(scope, scaled, op(b, 'Gather', `${scope}.bias`, [beta, ids]));
}

/**
 * H6 on rows `h` [M, 256] with their ids [M] (int64): [M, 256].
 * - `gather-weights`: Gather the (R, 256, 256) stacked, transposed weights by id, then a batched MatMul
 *   of each row with its own matrix;
 * - `all-layers`: one Gemm of every row against all R layers ([M, R·256]), then GatherElements of the
 *   row's own 256 by id.
 */
export function calibrate(layers: Layers, r: number, h: string, ids: string, form: CalibrationForm): string {
  const { b, weights } = layers;
  const keys = (p: string) => Array.from({ length: r }, (_, k) => `${CALIBRATION}.${k}.0.${p}`);
  const scope = `${CALIBRATION}.*.0`;
  let y: string;
  if (form === 'gather-weights') {
    const w = b.initializer(
      stacked(weights, `${CALIBRATION}.*.0.weight^T`, keys('weight'), [HIDDEN, HIDDEN], { transpose: true }),
    );
    const bias = b.initializer(stacked(weights, `${CALIBRATION}.*.0.bias`, keys('bias'), [HIDDEN]));
    const rowWeights = op(b, 'Gather', `${scope}.weight`, [w, ids]);
    const product = b.matMul(scope, unsqueeze(b, scope, h, [1]), rowWeights);
    y = b.add(scope, b.reshape(scope, product, [-1, HIDDEN]), op(b, 'Gather', `${scope}.bias`, [bias, ids]));
  } else {
    const w = b.initializer(
      stacked(weights, `${CALIBRATION}.*.0.weight`, keys('weight'), [HIDDEN, HIDDEN], { dims: [r * HIDDEN, HIDDEN] }),
    );
    const bias = b.initializer(
      stacked(weights, `${CALIBRATION}.*.0.bias`, keys('bias'), [HIDDEN], { dims: [r * HIDDEN] }),
    );
    const all = b.reshape(scope, b.gemm(scope, h, w, bias, { transB: 1 }), [-1, r, HIDDEN]);
    const index = op(b, 'Expand', scope, [
      b.reshape(scope, ids, [-1, 1, 1]),
      int64Constant(b, 'expand', [1, 1, HIDDEN]),
    ]);
    y = b.reshape(scope, op(b, 'GatherElements', scope, [all, index], { axis: attr.int(1) }), [-1, HIDDEN]);
  }
  return gelu(b, `${CALIBRATION}.*.2`, layerNormById(layers, r, y, ids));
}
