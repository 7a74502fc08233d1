/**
 * HeimdallNet's IQ encoder (the service's EfficientNetB2_1D, spec E1–E4) in eval: rows [M, 2, 1, L] →
 * [M, 256]. Only the stem and block 0's depthwise conv see the sequence: block 0 averages it away
 * (spec E2), so from block 1 on the rows are [M, C] and every k=1 conv is a Gemm, every depthwise conv
 * its centre tap (folds.ts), every pool over length 1 nothing at all. Every BatchNorm is folded into
 * the conv before it, but se_block.0, which becomes a Mul and an Add on the expand output.
 * It must not read tensor data.
 */
import { batchNormFolded } from '../folding';
import { centreTapBatchNorm, centreTapProjection } from './folds';
import { linear, op, silu, type Layers } from './layers';
import {
  HEAD_CHANNELS,
  hiddenWidth,
  IQ_ENCODER,
  isResidual,
  MBCONV_BLOCKS,
  STEM_CHANNELS,
  type MbConvBlock,
} from './weights';

/** The two convs over the sequence (E1, E2): the stem's and block 0's depthwise conv, by state_dict prefix. */
export const SEQUENCE_CONVS = {
  stem: `${IQ_ENCODER}.stem.0`,
  depthwise: `${IQ_ENCODER}.blocks.0.conv_block.0`,
} as const;

/** A bias-free Conv1d `conv` with BatchNorm `bn` after it, folded: as a Gemm on [M, in] rows (k = 1). */
function pointwise(layers: Layers, conv: string, bn: string, x: string, out: number, inp: number): string {
  const { b, weights } = layers;
  const folded = batchNormFolded(weights, conv, bn, [out, inp]);
  return b.gemm(conv, x, b.initializer(folded.weight), b.initializer(folded.bias), { transB: 1 });
}

/**
 * E1 and E2: rows [M, 2, 1, L] → [M, 16]. The sequence is averaged away inside block 0. The two
 * convs over the sequence are 2-D convs of height 1, so onnxruntime runs them in its blocked NCHWc
 * layout (NchwcTransformer, 1-D convs are left out of it) and pools there: measured at N = 7,
 * L = 10000, 2 threads, against the same graph with 1-D convs and ReduceMean: 0.728 [0.715–0.744]
 * at batch 1, 0.736 [0.689–0.815] at batch 32 (interleaved pairs, `onnx-export bench --baseline`).
 */
function stemAndBlock0(layers: Layers, x: string): string {
  const { b, weights } = layers;
  const stem = batchNormFolded(weights, SEQUENCE_CONVS.stem, `${IQ_ENCODER}.stem.1`, [STEM_CHANNELS, 2, 1, 3]);
  let y = b.conv(SEQUENCE_CONVS.stem, x, b.initializer(stem.weight), b.initializer(stem.bias), {
    kernelShape: [1, 3],
    strides: [1, 2],
    pads: [0, 1, 0, 1],
  });
  y = silu(b, `${IQ_ENCODER}.stem.2`, y);

  const p = `${IQ_ENCODER}.blocks.0`;
  const block = MBCONV_BLOCKS[0] as MbConvBlock;
  const depthwise = batchNormFolded(weights, SEQUENCE_CONVS.depthwise, `${p}.conv_block.1`, [STEM_CHANNELS, 1, 1, 3]);
  y = b.conv(SEQUENCE_CONVS.depthwise, y, b.initializer(depthwise.weight), b.initializer(depthwise.bias), {
    kernelShape: [1, 3],
    pads: [0, 1, 0, 1],
    group: STEM_CHANNELS,
  });
  y = silu(b, `${p}.conv_block.2`, y);
  const v = b.flatten(`${p}.conv_block.3`, b.globalAveragePool(`${p}.conv_block.3`, y));
  // se_block.0 is the Flatten of the [M, 32, 1] pool.
  let g = silu(b, `${p}.se_block.2`, linear(layers, `${p}.se_block.1`, v));
  g = op(b, 'Sigmoid', `${p}.se_block.4`, [linear(layers, `${p}.se_block.3`, g)]);
  const u = b.mul(p, v, g);
  return pointwise(layers, `${p}.project.0`, `${p}.project.1`, u, block.cout, hiddenWidth(block));
}

/** E3 for block i ≥ 1 on [M, Cin] rows (length 1): expand, gate from the centre-tap output, project. */
function lengthOneBlock(layers: Layers, i: number, x: string): string {
  const { b, weights } = layers;
  const k = MBCONV_BLOCKS[i] as MbConvBlock;
  const p = `${IQ_ENCODER}.blocks.${i}`;
  const hid = hiddenWidth(k);
  const e = silu(b, `${p}.conv_block.2`, pointwise(layers, `${p}.conv_block.0`, `${p}.conv_block.1`, x, hid, k.cin));
  // d = e·c (c: conv_block.3's centre taps) never appears: BN_se0(d) and the project conv take c in.
  const se0 = centreTapBatchNorm(weights, `${p}.conv_block.3`, `${p}.se_block.0`);
  const z = silu(
    b,
    `${p}.se_block.1`,
    b.add(`${p}.se_block.0`, b.mul(`${p}.se_block.0`, e, b.initializer(se0.scale)), b.initializer(se0.shift)),
  );
  // se_block.2 and .3 (pool and flatten over length 1) are the identity.
  let g = silu(b, `${p}.se_block.5`, linear(layers, `${p}.se_block.4`, z));
  g = op(b, 'Sigmoid', `${p}.se_block.7`, [linear(layers, `${p}.se_block.6`, g)]);
  const u = b.mul(p, e, g);
  const weight = centreTapProjection(weights, `${p}.project.0`, `${p}.conv_block.3`, `${p}.project.1`);
  const { bias } = batchNormFolded(weights, `${p}.project.0`, `${p}.project.1`, [k.cout, hid]);
  const y = b.gemm(`${p}.project.0`, u, b.initializer(weight), b.initializer(bias), { transB: 1 });
  return isResidual(k) ? b.add(p, y, x) : y;
}

/** The IQ encoder: rows [M, 2, 1, L] → [M, 256]. */
export function iqEncoder(layers: Layers, x: string): string {
  let y = stemAndBlock0(layers, x);
  for (let i = 1; i < MBCONV_BLOCKS.length; i++) y = lengthOneBlock(layers, i, y);
  const last = MBCONV_BLOCKS[MBCONV_BLOCKS.length - 1] as MbConvBlock;
  y = pointwise(layers, `${IQ_ENCODER}.head.0`, `${IQ_ENCODER}.head.1`, y, HEAD_CHANNELS, last.cout);
  y = silu(layers.b, `${IQ_ENCODER}.head.2`, y);
  // head.3 and head.4 (pool and flatten over length 1) are the identity.
  return linear(layers, `${IQ_ENCODER}.head.5`, y);
}
