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
 * Graph shape: CONV_LAYOUT below. It must not read tensor data nor write files.
 */
import type { SafetensorsFile } from '../../checkpoint';
import { DEFAULT_OPSET } from '../../common/export-contract';
import type { ModelSignature } from '../../common/model-signature';
import { GraphBuilder } from '../../onnx/builder';
import { attr, float32Tensor, type Model } from '../../onnx/ir';
import type { BuildOptions } from '../architecture';
import { selfAttention } from '../attention';
import { batchNormFolded } from '../folding';
import { op, reduce } from '../graph-ops';
import { activeCount, maskedMax, maskedRows, receiverSet, slotMajorRows, toSlots, unbiasedStd } from '../receiver-set';
import {
  declaredSignature,
  declareInputs,
  declareOutputs,
  fileInitializers,
  linearStack,
  type TensorDeclaration,
} from '../state-dict-layers';
import type { IqResNet18Config } from './config';
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

/**
 * The convolutions run as Conv1d ([B·N, C, L]) or as Conv2d on a height-1 image ([B·N, C, 1, L]).
 * TODO: measured choice.
 */
export const CONV_LAYOUT: '1d' | '2d' = (process.env.IQ_CONV_LAYOUT as '1d' | '2d' | undefined) ?? '1d';

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

export interface IqResNet18Bundle {
  readonly config: IqResNet18Config;
  readonly weights: SafetensorsFile;
  readonly weightsSha256: string;
}

/** The graph of weights already checked against the state_dict table (weights.ts). */
export function buildIqResNet18(bundle: IqResNet18Bundle, options: BuildOptions = {}): Model {
  const { config, weights } = bundle;
  const b = new GraphBuilder({ opset: options.opset ?? DEFAULT_OPSET, graphName: 'IQResNet18' });
  const file = fileInitializers(b, weights);
  const [iq, mask] = declareInputs(b, INPUTS) as [string, string];
  const set = receiverSet(b, mask);
  const flat = CONV_LAYOUT === '2d';
  const spatial = (k: number) => (flat ? [1, k] : [k]);
  const sides = (p: number) => (flat ? [0, p, 0, p] : [p, p]);

  const conv = (c: ConvBn, x: string): string => {
    const folded = batchNormFolded(weights, c.conv, c.bn, [c.outputs, c.inputs, ...spatial(c.kernel)]);
    return b.conv(c.conv, x, b.initializer(folded.weight), b.initializer(folded.bias), {
      kernelShape: spatial(c.kernel),
      strides: spatial(c.stride),
      pads: sides(c.padding),
    });
  };

  // R1: one row of samples per receiver, row b·N + i.
  let x = b.reshape(
    ENCODER,
    b.flatten(ENCODER, iq, { axis: 2 }),
    flat ? [0, IQ_CHANNELS, 1, -1] : [0, IQ_CHANNELS, -1],
  );
  // R2.
  x = b.relu(`${ENCODER}.2`, conv(STEM, x));
  x = op(b, 'MaxPool', `${ENCODER}.3`, [x], {
    kernel_shape: attr.ints(spatial(POOL.kernel)),
    pads: attr.ints(sides(POOL.padding)),
    strides: attr.ints(spatial(POOL.stride)),
  });
  // R3.
  for (const [first, second] of STAGE_CONVS) {
    const stage = first.conv.slice(0, first.conv.lastIndexOf('.'));
    x = conv(second, b.relu(`${stage}.2`, conv(first, x)));
  }
  // R4: the mean over length, one row of 128 per receiver, reordered slot-major (receiver-set.ts).
  const pooled = b.reshape(`${ENCODER}.8`, b.globalAveragePool(`${ENCODER}.8`, x), [-1, ATTENTION.embedDim]);
  const e = slotMajorRows(b, `${ENCODER}.8`, pooled, set, ATTENTION.embedDim);
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

  return b.build({
    metadataProps: {
      architecture: config.architecture,
      checkpoint_sha256: bundle.weightsSha256,
      ...(config.maxReceivers !== undefined ? { max_receivers: String(config.maxReceivers) } : {}),
      ...(config.iqSequenceLength !== undefined ? { iq_sequence_length: String(config.iqSequenceLength) } : {}),
      run_id: options.runId ?? config.runId ?? '',
    },
  });
}
