/**
 * IQResNet18's linear stretches, each as less work for onnxruntime and exactly the same function
 * (shared/heimdall-models.md R3: no ReLU after a stage's second BN, so a stage's second conv and the
 * next stage's first conv are two linear maps in a row, and the last stage's second conv is followed
 * by the mean over length, also linear):
 *
 * - `composedConvs`: conv a (k3, s1, p1) then conv b (k3, stride s, p1), BatchNorm folded into each,
 *   as one k5 conv (stride s, p2) whose taps are the full convolution of b's taps with a's. Alone that
 *   differs at the ends: b zero-pads a's output at −1 and at L, where the k5 conv sees a evaluated one
 *   step outside the input (its bias plus the input's end column). Those two values are a itself on
 *   the input's end columns, and their part in the output is b on them; it is subtracted at the first
 *   output, and at the last when L is odd (stride 2 reaches a's output at L only then), by one
 *   ScatterElements (reduction add, which needs opset 16; with one output both land on it).
 * - `convThenMean`: conv (k3, s1, p1) then the mean over length L is Σ taps · mean(x) + bias minus
 *   (tap 2 · x[0] + tap 0 · x[L−1]) / L: the columns the zero padding cut from the sums.
 *
 * The composed weights are computed in the graph from the state_dict's folded weights (a Conv over
 * the taps, a Transpose and a reversing Slice, all on initializers), so onnxruntime folds them once
 * when it creates the session: emission does no O(C³) arithmetic and the file holds each weight once.
 * Computed in TypeScript instead (float64, rounded once), the session's creation took 12.5 ms
 * against 28.3 ms, but emission 0.23 s against 0.07 s and the file 5.0 MB against 3.5 MB (loaded
 * machine, 118 M multiply-adds in JavaScript); the int8 variant gets them as constants from quantize/,
 * which folds them before quantizing (quantize/fold-constant-weights.ts).
 * Tensors are [rows, C, 1, L] (Conv2d on height-1 images; graph.ts says why). It must not read tensor
 * data while building (the BatchNorm folds are lazy) nor know the stage layout (weights.ts does).
 */
import type { WeightsFile } from '../../checkpoint';
import type { GraphBuilder } from '../../onnx/builder';
import { attr, int64Tensor, lazyTensor, ONNX_DTYPE_CODES, type Tensor } from '../../onnx/ir';
import { batchNormFolded, batchNormFoldedBias, batchNormStats, bytesOf } from '../folding';
import { int64s, op, reduce } from '../graph-ops';
import type { ConvBn } from './weights';

/** The opset from which ScatterElements adds (reduction 'add'); below it, the convs run one by one. */
export const COMPOSED_CONVS_OPSET = 16;

const FLOAT32 = attr.int(ONNX_DTYPE_CODES.float32);
/** Slice to the end of an axis whatever its length (ONNX clamps ends to the dimension). */
const TO_END = Number.MAX_SAFE_INTEGER;

/** A conv's weight with its BatchNorm folded, as a height-1 Conv2d kernel [out, in, 1, k]; its bias if asked. */
function folded(b: GraphBuilder, weights: WeightsFile, c: ConvBn): { weight: string; bias: () => string } {
  const t = batchNormFolded(weights, c.conv, c.bn, [c.outputs, c.inputs, 1, c.kernel]);
  return { weight: b.initializer(t.weight), bias: () => b.initializer(t.bias) };
}

/** Conv `c` with its BatchNorm folded, on [rows, c.inputs, 1, L]. */
export function foldedConv(b: GraphBuilder, weights: WeightsFile, c: ConvBn, x: string): string {
  const { weight, bias } = folded(b, weights, c);
  return b.conv(c.conv, x, weight, bias(), {
    kernelShape: [1, c.kernel],
    strides: [1, c.stride],
    pads: [0, c.padding, 0, c.padding],
  });
}

/** Columns [start, end) of `x` along the length (axis 3). */
function columns(b: GraphBuilder, scope: string, x: string, start: number, end: number): string {
  return op(b, 'Slice', scope, [x, int64s(b, [start]), int64s(b, [end]), int64s(b, [3])]);
}

/** int64 [1]: the length of [rows, C, 1, L] `x` at run time (Shape's start/end exist from opset 15). */
function lengthOf(b: GraphBuilder, scope: string, x: string): string {
  return b.opset >= 15
    ? op(b, 'Shape', scope, [x], { start: attr.int(3), end: attr.int(4) })
    : op(b, 'Gather', scope, [op(b, 'Shape', scope, [x]), int64s(b, [3])], { axis: attr.int(0) });
}

/** Conv a then conv b (module docstring): [rows, a.inputs, 1, L] → [rows, b.outputs, 1, L_b]. */
export function composedConvs(b: GraphBuilder, weights: WeightsFile, a: ConvBn, c: ConvBn, x: string): string {
  const scope = `${a.conv}+${c.conv}`;
  if (a.kernel !== 3 || a.stride !== 1 || c.kernel !== 3 || c.stride !== 2) {
    throw new Error(`internal: ${scope}: composedConvs takes a k3 stride-1 conv then a k3 stride-2 conv`);
  }
  const first = folded(b, weights, a);
  const second = folded(b, weights, c);
  // Taps: a full convolution over the tap axis, b's weight as the signal and a's, transposed and
  // reversed, as the kernel: [out_b, in_a, 1, 5].
  const reversed = op(b, 'Slice', `${scope}/taps`, [
    b.transpose(`${scope}/taps`, first.weight, [1, 0, 2, 3]),
    int64s(b, [-1]),
    int64s(b, [-TO_END]),
    int64s(b, [3]),
    int64s(b, [-1]),
  ]);
  const taps = b.conv(`${scope}/taps`, second.weight, reversed, undefined, { pads: [0, 2, 0, 2] });
  const bias = b.initializer(composedBias(weights, a, c, `${scope}.bias`));
  const composed = b.conv(scope, x, taps, bias, {
    kernelShape: [1, 5],
    strides: [1, c.stride],
    pads: [0, 2, 0, 2],
  });

  // a one step outside each end: [x0, xL] padded by 2 and read at stride 3 gives a at −1 and at L.
  const ends = op(b, 'Concat', `${scope}/ends`, [columns(b, scope, x, 0, 1), columns(b, scope, x, -1, TO_END)], {
    axis: attr.int(3),
  });
  const outside = b.conv(`${scope}/ends`, ends, first.weight, first.bias(), {
    kernelShape: [1, 3],
    strides: [1, 3],
    pads: [0, 2, 0, 2],
  });
  // b's tap 2 on a(L) and tap 0 on a(−1): the two at dilation 2 with 3 zeros each side, stride 3,
  // give [b₂·a(L), b₀·a(−1)].
  const excess = b.conv(`${scope}/ends`, outside, second.weight, undefined, {
    kernelShape: [1, 3],
    strides: [1, 3],
    pads: [0, 3, 0, 3],
    dilations: [1, 2],
  });
  // Subtracted: −a(L)'s part only when the input length is odd, −a(−1)'s always.
  const odd = op(b, 'Mod', `${scope}/ends`, [lengthOf(b, `${scope}/ends`, x), int64s(b, [2])]);
  const factors = op(
    b,
    'Cast',
    `${scope}/ends`,
    [op(b, 'Concat', `${scope}/ends`, [op(b, 'Neg', `${scope}/ends`, [odd]), int64s(b, [-1])], { axis: attr.int(0) })],
    { to: FLOAT32 },
  );
  const updates = b.mul(`${scope}/ends`, excess, factors);
  const lastFirst = '/ints/last_first';
  const positions = op(b, 'Expand', `${scope}/ends`, [
    b.has(lastFirst) ? lastFirst : b.initializer(int64Tensor(lastFirst, [1, 1, 1, 2], [-1, 0])),
    op(b, 'Shape', `${scope}/ends`, [updates]),
  ]);
  return op(b, 'ScatterElements', scope, [composed, positions, updates], {
    axis: attr.int(3),
    reduction: attr.string('add'),
  });
}

/**
 * The composed conv's bias: b's folded bias plus, per output channel, b's folded weight summed over
 * its taps times a's folded bias (b's fold is a per-channel scale, applied after the sum).
 */
function composedBias(weights: WeightsFile, a: ConvBn, c: ConvBn, name: string): Tensor {
  return lazyTensor(name, 'float32', [c.outputs], async () => {
    const [{ scale }, w, biasC, biasA] = await Promise.all([
      batchNormStats(weights, c.bn),
      weights.readFloat32(`${c.conv}.weight`),
      batchNormFoldedBias(weights, c.conv, c.bn),
      batchNormFoldedBias(weights, a.conv, a.bn),
    ]);
    const out = new Float32Array(c.outputs);
    for (let o = 0; o < c.outputs; o++) {
      let sum = 0;
      for (let m = 0; m < c.inputs; m++) {
        const base = (o * c.inputs + m) * c.kernel;
        let taps = 0;
        for (let k = 0; k < c.kernel; k++) taps += w[base + k] as number;
        sum += taps * (biasA[m] as number);
      }
      out[o] = (biasC[o] as number) + (scale[o] as number) * sum;
    }
    return bytesOf(out);
  });
}

/** The node scope of conv `c` then the mean over length. */
export const convThenMeanScope = (c: ConvBn): string => `${c.conv}+mean`;

/** Conv then the mean over length (module docstring): [rows, c.inputs, 1, L] → [rows, c.outputs, 1, 1]. */
export function convThenMean(b: GraphBuilder, weights: WeightsFile, c: ConvBn, x: string): string {
  const scope = convThenMeanScope(c);
  const { weight, bias } = folded(b, weights, c);
  const tapSum = reduce(b, 'ReduceSum', `${scope}/taps`, weight, [3], 1);
  const mean = b.conv(scope, b.globalAveragePool(scope, x), tapSum, bias());
  // What the zero padding cut: tap 2 on x[0] and tap 0 on x[L−1], as one 1×1 conv on both columns.
  const ends = op(b, 'Concat', `${scope}/ends`, [columns(b, scope, x, 0, 1), columns(b, scope, x, -1, TO_END)], {
    axis: attr.int(1),
  });
  const endTaps = op(
    b,
    'Concat',
    `${scope}/ends`,
    [columns(b, `${scope}/taps`, weight, 2, 3), columns(b, `${scope}/taps`, weight, 0, 1)],
    { axis: attr.int(1) },
  );
  const cut = b.conv(`${scope}/ends`, ends, endTaps, undefined);
  const length = op(b, 'Cast', `${scope}/ends`, [lengthOf(b, `${scope}/ends`, x)], { to: FLOAT32 });
  return b.sub(scope, mean, b.div(`${scope}/ends`, cut, length));
}
