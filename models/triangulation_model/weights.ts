/**
 * TriangulationModel's weight check: its 14 state_dict keys and shapes (shared/heimdall-models.md
 * 2.2; the factory's widths, which no checkpoint varies) and the check of a weights file against
 * them. It must not build graphs or read tensor data.
 */
import type { WeightsFile } from '../../checkpoint';
import { attentionShapes, type AttentionShape } from '../attention';
import { checkWeightTable } from '../weight-table';
import type { TriangulationModelConfig } from './config';

/** Six scalars per receiver: snr, psd, freq_offset, rx_lat, rx_lon, signal_present. */
export const RECEIVER_FEATURES = 6;
export const ENCODER_HIDDEN = 64;
/** The attention's width D and heads h (d = 8). */
export const ATTENTION: AttentionShape = { embedDim: 32, heads: 4 };
/** agg = mean, max, std and count, each 32 wide (T7). */
export const POOLED = 4 * ATTENTION.embedDim;
export const HEAD_HIDDEN = 64;
/** Columns of the head's output: position x, y, then the log-variance. */
export const HEAD_OUTPUTS = 3;

export const ENCODER = 'encoder.encoder';
/** Sequential indices of the Linear layers (ReLU and Dropout between). */
export const ENCODER_LINEARS = [0, 3] as const;
export const ATTENTION_PREFIX = 'aggregator.attention';
export const LAYER_NORM = 'aggregator.layer_norm';
export const HEAD = 'head.head';
export const HEAD_LINEARS = [0, 3] as const;

/** What the weights are checked against, for messages. */
export const AGAINST = 'triangulation_model (encoder 6→64→32, attention D 32 ×4 heads, head 128→64→3)';

/** Every tensor of TriangulationModel's state_dict with its shape, in registration order. */
export function expectedShapes(): Map<string, readonly number[]> {
  const d = ATTENTION.embedDim;
  const linear = (prefix: string, out: number, inputs: number): [string, number[]][] => [
    [`${prefix}.weight`, [out, inputs]],
    [`${prefix}.bias`, [out]],
  ];
  return new Map<string, readonly number[]>([
    ...linear(`${ENCODER}.0`, ENCODER_HIDDEN, RECEIVER_FEATURES),
    ...linear(`${ENCODER}.3`, d, ENCODER_HIDDEN),
    ...attentionShapes(ATTENTION_PREFIX, ATTENTION),
    [`${LAYER_NORM}.weight`, [d]],
    [`${LAYER_NORM}.bias`, [d]],
    ...linear(`${HEAD}.0`, HEAD_HIDDEN, POOLED),
    ...linear(`${HEAD}.3`, HEAD_OUTPUTS, HEAD_HIDDEN),
  ]);
}

/** Refuses weights that differ from TriangulationModel's state_dict (every problem at once). */
export function checkTriangulationModelWeights(_config: TriangulationModelConfig, weights: WeightsFile): void {
  checkWeightTable(weights, expectedShapes(), AGAINST, () => false);
}
