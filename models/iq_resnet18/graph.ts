/**
 * IQResNet18 (shared/heimdall-models.md section 3) as an ONNX IR graph in eval semantics: each
 * receiver's IQ samples through a shared 1-D CNN (BatchNorm folded into each conv, whose bias it
 * absorbs), the mean over length, self-attention across receivers (models/attention.ts), pooling over
 * receivers (mean over the active ones, max, unbiased std) and two MLP heads: `positions` [B, 2] and
 * `uncertainties` [B, 2] = clamp(Softplus(·), 0.01, 1). The batch B, receiver count N and IQ length
 * L are symbolic; `receiver_mask` keeps its polarity (True = masked).
 *
 * The four stages are the spec's (R3): conv → BN → ReLU → conv → BN, with no skip connection and no
 * ReLU after the second BN, so the next conv sees the raw BN output.
 *
 * Edge cases are PyTorch's (spec 3.3), by the same arithmetic: with N = 1 the unbiased std divides 0
 * by 0, and with every receiver masked the mean divides 0 by 0 (the count is not clamped), so both
 * outputs are NaN.
 *
 * Graph shape, measured with onnxruntime at batch 1, N = 7, L = 10000 (2 threads; the conv stack is
 * nearly all of the time):
 * - convolutions as Conv2d on height-1 images ([B·N, C, 1, L]): onnxruntime runs those in its blocked
 *   NCHWc layout and Conv1d with im2col; the stack alone took 92.6 ms as Conv2d against 119.9 ms as
 *   Conv1d (loaded machine, same run);
 * - from opset 16 the linear stretches run composed (composed-convs.ts): three k5 stride-2 convs instead
 *   of six k3 ones and no last conv, 240 M multiply-adds per receiver instead of 388 M; the stack took
 *   40.6 ms against 63.5 ms (loaded machine, same run; 17.7 against 28.4 ms when it was quiet). Each
 *   composition pays for its end corrections (about 1 ms at batch 1: a ScatterElements and the layout
 *   changes around it) and still wins: the whole graph took 18.4 ms, and 18.8 / 19.1 / 24.5 ms with
 *   stage 4–5's, 5–6's or 6–7's pair left as two convs (quiet machine, same run).
 * The whole graph, `onnx-export bench --baseline` on a quiet machine: 18.0 ms at batch 1 and 645 ms at
 * batch 32, against 34.5 and 1021 ms for torch's own export (ratios 0.525 and 0.634); PyTorch eager took
 * 37.6 ms and 2.93 s (torch 2.15, 2 threads). onnxruntime folds the composed weights when it creates the
 * session (79 ms against 15 ms for torch's graph).
 * int8 (docs/quantization.md): the graph names its conv on the mean over length and its attention as
 * float scopes (INT8_FLOAT_SCOPES_KEY). The embedding there is a mean over length of a BatchNorm's
 * output: channel offsets of ±100 around a spread of 1–3 (σ over receivers and samples), so one uint8
 * scale per tensor steps by 0.9, coarser than the signal. Quantized, they took positions' MAE on 48
 * held-out samples from 1.6e-2 to 2.7e-2 (the gate is 3e-2) for no measurable speed: they run on the
 * B·N rows of 128 after the sequence is gone.
 * It must not read tensor data nor write files.
 */
import { DEFAULT_OPSET, INT8_FLOAT_SCOPES_KEY } from '../../common/export-contract';
import type { ModelSignature } from '../../common/model-signature';
import { GraphBuilder } from '../../onnx/builder';
import { attr, float32Tensor, type Model } from '../../onnx/ir';
import type { BuildInput, BuildOptions } from '../architecture';
import { selfAttention } from '../attention';
import { op, reduce } from '../graph-ops';
import { activeCount, maskedMax, maskedRows, receiverSet, slotMajorRows, toSlots, unbiasedStd } from '../receiver-set';
import {
  declaredSignature,
  declareInputs,
  declareOutputs,
  fileInitializers,
  graphMetadata,
  linearStack,
  type TensorDeclaration,
} from '../state-dict-layers';
import { composedConvs, COMPOSED_CONVS_OPSET, convThenMean, convThenMeanScope, foldedConv } from './composed-convs';
import { recordedSettings, type IqResNet18Config } from './config';
import {
  ATTENTION,
  ATTENTION_PREFIX,
  ENCODER,
  HEAD_LINEARS,
  IQ_CHANNELS,
  POOL,
  STAGE_CONVS,
  STEM,
  type ConvBn,
} from './weights';

export const BATCH_DIM = 'batch_size';
export const RECEIVERS_DIM = 'receivers';
export const LENGTH_DIM = 'seq_len';
/** The uncertainty head's clamp after Softplus (spec R10). */
export const UNCERTAINTY_MIN = 0.01;
export const UNCERTAINTY_MAX = 1;

/** The service's names (spec 3.1). */
export const INPUTS: readonly TensorDeclaration[] = [
  { name: 'iq_samples', dtype: 'float32', dims: [BATCH_DIM, RECEIVERS_DIM, IQ_CHANNELS, LENGTH_DIM] },
  { name: 'receiver_mask', dtype: 'bool', dims: [BATCH_DIM, RECEIVERS_DIM] },
];
export const OUTPUTS: readonly TensorDeclaration[] = [
  { name: 'positions', dtype: 'float32', dims: [BATCH_DIM, 2] },
  { name: 'uncertainties', dtype: 'float32', dims: [BATCH_DIM, 2] },
];

export function iqResNet18Signature(): ModelSignature {
  return declaredSignature(INPUTS, OUTPUTS);
}

/** The graph of weights already checked against the state_dict table (weights.ts). */
export function buildIqResNet18(
  { config, weights, weightsSha256 }: BuildInput<IqResNet18Config, unknown>,
  options: BuildOptions = {},
): Model {
  const b = new GraphBuilder({ opset: options.opset ?? DEFAULT_OPSET, graphName: 'IQResNet18' });
  const file = fileInitializers(b, weights);
  const [iq, mask] = declareInputs(b, INPUTS) as [string, string];
  const set = receiverSet(b, mask);
  const conv = (c: ConvBn, x: string) => foldedConv(b, weights, c, x);

  // R1: one row of samples per receiver, row b·N + i, as a height-1 image.
  let x = b.reshape(ENCODER, b.flatten(ENCODER, iq, { axis: 2 }), [0, IQ_CHANNELS, 1, -1]);
  // R2.
  x = b.relu(`${ENCODER}.2`, conv(STEM, x));
  x = op(b, 'MaxPool', `${ENCODER}.3`, [x], {
    kernel_shape: attr.ints([1, POOL.kernel]),
    pads: attr.ints([0, POOL.padding, 0, POOL.padding]),
    strides: attr.ints([1, POOL.stride]),
  });
  // R3: a stage's second conv is left pending (no ReLU follows it) and runs composed with the next
  // stage's first conv, or with the mean over length after the last stage (composed-convs.ts).
  let pending: ConvBn | undefined;
  for (const [first, second] of STAGE_CONVS) {
    const stage = first.conv.slice(0, first.conv.lastIndexOf('.'));
    if (pending === undefined) x = conv(first, x);
    else if (b.opset >= COMPOSED_CONVS_OPSET) x = composedConvs(b, weights, pending, first, x);
    else x = conv(first, conv(pending, x));
    x = b.relu(`${stage}.2`, x);
    pending = second;
  }
  // R4: the mean over length, one row of 128 per receiver, reordered slot-major (receiver-set.ts).
  const means = convThenMean(b, weights, pending as ConvBn, x);
  const e = slotMajorRows(
    b,
    `${ENCODER}.8`,
    b.reshape(`${ENCODER}.8`, means, [-1, ATTENTION.embedDim]),
    set,
    ATTENTION.embedDim,
  );
  // R5.
  const attention = selfAttention(b, weights, ATTENTION_PREFIX, e, set, ATTENTION);
  const o = toSlots(b, ATTENTION_PREFIX, attention.output, set, [ATTENTION.embedDim]);
  // R6: the mean over active receivers (the count is not clamped: all masked gives 0/0).
  const zeroed = maskedRows(b, 'pool/mean', o, set, 0);
  const mean = b.div('pool/mean', reduce(b, 'ReduceSum', 'pool/mean', zeroed, [0], 0), activeCount(b, set));
  // R7, R8 (masked rows count as zeros in the std).
  const max = maskedMax(b, 'pool/max', o, set);
  const std = unbiasedStd(b, 'pool/std', zeroed, 0, set);
  // R9, R10.
  const agg = op(b, 'Concat', 'pool', [mean, max, std], { axis: attr.int(1) });
  const [positions, uncertainties] = OUTPUTS.map((t) => t.name) as [string, string];
  linearStack(b, file, 'position_head', HEAD_LINEARS, agg, positions);
  const spread = b.softplus('uncertainty_head/Softplus', linearStack(b, file, 'uncertainty_head', HEAD_LINEARS, agg));
  const low = b.initializer(float32Tensor('uncertainty_min', [], [UNCERTAINTY_MIN]));
  const high = b.initializer(float32Tensor('uncertainty_max', [], [UNCERTAINTY_MAX]));
  b.clip('uncertainty_head/clamp', spread, low, high, { output: uncertainties });
  declareOutputs(b, OUTPUTS);

  const int8Float = { [INT8_FLOAT_SCOPES_KEY]: [convThenMeanScope(pending as ConvBn), ATTENTION_PREFIX].join(',') };
  return b.build({
    metadataProps: { ...graphMetadata(config, weightsSha256, options, recordedSettings(config)), ...int8Float },
  });
}
