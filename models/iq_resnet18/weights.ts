/**
 * IQResNet18's weight check: its state_dict keys and shapes (shared/heimdall-models.md 3.2: a Conv1d
 * stem and four two-conv stages, every Conv1d with a bias and a BatchNorm1d after it, the attention,
 * two three-layer heads) and the check of a weights file against them. BatchNorm's
 * `num_batches_tracked` may be present or not. It must not build graphs or read tensor data.
 */
import type { WeightsFile } from '../../checkpoint';
import { attentionShapes, type AttentionShape } from '../attention';
import { batchNormCounters, checkWeightTable } from '../weight-table';
import type { IqResNet18Config } from './config';

/** I and Q: the channels of each receiver's samples. */
export const IQ_CHANNELS = 2;
export const ENCODER = 'iq_encoder';

/** A Conv1d (with bias) followed by a BatchNorm1d, as the state_dict holds them. */
export interface ConvBn {
  /** state_dict prefix of the Conv1d; the BatchNorm1d's is `bn`. */
  readonly conv: string;
  readonly bn: string;
  readonly inputs: number;
  readonly outputs: number;
  readonly kernel: number;
  readonly stride: number;
  readonly padding: number;
}

const convBn = (conv: string, bn: string, inputs: number, outputs: number, kernel: number, stride: number) => ({
  conv,
  bn,
  inputs,
  outputs,
  kernel,
  stride,
  padding: (kernel - 1) / 2,
});

/** The stem (iq_encoder.0 / .1): Conv1d 2→64 k7 s2 p3, then BN, ReLU and MaxPool1d k3 s2 p1. */
export const STEM: ConvBn = convBn(`${ENCODER}.0`, `${ENCODER}.1`, IQ_CHANNELS, 64, 7, 2);
export const POOL = { kernel: 3, stride: 2, padding: 1 } as const;

/** (Sequential index, in, out, first conv's stride) of the four stages (spec R3). */
const STAGES = [
  [4, 64, 64, 1],
  [5, 64, 128, 2],
  [6, 128, 256, 2],
  [7, 256, 128, 2],
] as const;

/** Each stage: conv k3 (stride) → BN → ReLU → conv k3 → BN; no skip and no ReLU after the second BN. */
export const STAGE_CONVS: readonly (readonly [ConvBn, ConvBn])[] = STAGES.map(([i, cin, cout, stride]) => [
  convBn(`${ENCODER}.${i}.0`, `${ENCODER}.${i}.1`, cin, cout, 3, stride),
  convBn(`${ENCODER}.${i}.3`, `${ENCODER}.${i}.4`, cout, cout, 3, 1),
]);

/** The attention over receivers: D = 128 (the last stage's width), 4 heads of 32. */
export const ATTENTION: AttentionShape = { embedDim: 128, heads: 4 };
export const ATTENTION_PREFIX = 'attention';
/** agg = mean, max and std over receivers (R9). */
export const POOLED = 3 * ATTENTION.embedDim;
export const HEADS = ['position_head', 'uncertainty_head'] as const;
/** Sequential indices of each head's Linear layers and their widths. */
export const HEAD_LINEARS = [0, 3, 6] as const;
const HEAD_WIDTHS = [256, 128, 2] as const;

export const AGAINST = 'iq_resnet18 (Conv1d stem and 4 stages to 128, attention D 128 ×4 heads, heads 384→256→128→2)';

/** Every float tensor of IQResNet18's state_dict with its shape, in registration order. */
export function expectedShapes(): Map<string, readonly number[]> {
  const m = new Map<string, readonly number[]>();
  for (const c of [STEM, ...STAGE_CONVS.flat()]) {
    m.set(`${c.conv}.weight`, [c.outputs, c.inputs, c.kernel]);
    m.set(`${c.conv}.bias`, [c.outputs]);
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`${c.bn}.${p}`, [c.outputs]);
  }
  for (const [key, shape] of attentionShapes(ATTENTION_PREFIX, ATTENTION)) m.set(key, shape);
  for (const head of HEADS) {
    let inputs = POOLED;
    HEAD_LINEARS.forEach((i, k) => {
      const out = HEAD_WIDTHS[k] as number;
      m.set(`${head}.${i}.weight`, [out, inputs]);
      m.set(`${head}.${i}.bias`, [out]);
      inputs = out;
    });
  }
  return m;
}

/** Refuses weights that differ from IQResNet18's state_dict (every problem at once). */
export function checkIqResNet18Weights(_config: IqResNet18Config, weights: WeightsFile): void {
  const expected = expectedShapes();
  checkWeightTable(weights, expected, AGAINST, batchNormCounters(expected));
}
