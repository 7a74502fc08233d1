/**
 * LocalizationNet's weight check: what its state_dict must contain: the ConvNeXt layout read from the weights, the
 * expected key → shape table for a layout, and the check of a safetensors file against it (missing,
 * unexpected, shape and dtype mismatches, all reported at once). It must not build graphs or read
 * tensor data.
 */
import type { WeightsFile } from '../../checkpoint';
import { ModelError } from '../model-error';
import { checkWeightTable } from '../weight-table';
import { CONVNEXT_PRESETS, type LocalizationNetConfig } from './config';

export interface ConvNextLayout {
  readonly depths: readonly number[];
  readonly dims: readonly number[];
}

/** Prefix of torchvision's ConvNeXt `features` inside LocalizationNet (`backbone = Sequential(features, avgpool)`). */
export const FEATURES = 'backbone.0';
export const HEADS = ['position_head', 'uncertainty_head'] as const;
/** The head's layers: Linear(d,128) BN ReLU Dropout Linear(128,64) BN ReLU Dropout Linear(64,2). */
export const HEAD_WIDTHS = [128, 64, 2] as const;
/** state_dict indices of the head's Linear and BatchNorm1d modules (Sequential positions). */
export const HEAD_LINEARS = [0, 4, 8] as const;
export const HEAD_NORMS = [1, 5] as const;

/** Feature index of stage `s` (stem is 0; stages and downsamples alternate). */
export const stageIndex = (s: number): number => 2 * s + 1;
export const downsampleIndex = (s: number): number => 2 * s + 2;

/** Reads depths and widths from the tensor names and shapes (the check then verifies every tensor). */
export function inferLayout(weights: WeightsFile): ConvNextLayout | undefined {
  const depths: number[] = [];
  const dims: number[] = [];
  for (let s = 0; ; s++) {
    const first = weights.get(`${FEATURES}.${stageIndex(s)}.0.block.0.weight`);
    if (!first) break;
    let depth = 0;
    while (weights.get(`${FEATURES}.${stageIndex(s)}.${depth}.block.0.weight`)) depth++;
    depths.push(depth);
    dims.push(first.shape[0] ?? 0);
  }
  return depths.length > 0 ? { depths, dims } : undefined;
}

/** The layout the config promises (preset or explicit), or the weights' own when the config leaves it open. */
export function resolveLayout(
  config: LocalizationNetConfig,
  weights: WeightsFile,
): { layout: ConvNextLayout; against: string } {
  if (config.backbone !== 'convnext') {
    return { layout: CONVNEXT_PRESETS[config.backbone], against: config.backbone };
  }
  const inferred = inferLayout(weights);
  const depths = config.depths ?? inferred?.depths;
  const dims = config.dims ?? inferred?.dims;
  if (!depths || !dims) {
    throw new ModelError({
      file: weights.path,
      against: 'a ConvNeXt backbone',
      missing: [`${FEATURES}.1.0.block.0.weight`],
      detail: 'no ConvNeXt stage found under backbone.0.*',
    });
  }
  return {
    layout: { depths, dims },
    against: `convnext depths ${JSON.stringify(depths)} dims ${JSON.stringify(dims)}`,
  };
}

/** Every tensor LocalizationNet with this layout has, with its shape (num_batches_tracked excluded). */
export function expectedShapes(layout: ConvNextLayout): Map<string, readonly number[]> {
  const m = new Map<string, readonly number[]>();
  const f = FEATURES;
  const d0 = layout.dims[0] ?? 0;
  m.set(`${f}.0.0.weight`, [d0, 3, 4, 4]);
  m.set(`${f}.0.0.bias`, [d0]);
  m.set(`${f}.0.1.weight`, [d0]);
  m.set(`${f}.0.1.bias`, [d0]);
  layout.depths.forEach((depth, s) => {
    const d = layout.dims[s] ?? 0;
    for (let j = 0; j < depth; j++) {
      const p = `${f}.${stageIndex(s)}.${j}`;
      m.set(`${p}.layer_scale`, [d, 1, 1]);
      m.set(`${p}.block.0.weight`, [d, 1, 7, 7]);
      m.set(`${p}.block.0.bias`, [d]);
      m.set(`${p}.block.2.weight`, [d]);
      m.set(`${p}.block.2.bias`, [d]);
      m.set(`${p}.block.3.weight`, [4 * d, d]);
      m.set(`${p}.block.3.bias`, [4 * d]);
      m.set(`${p}.block.5.weight`, [d, 4 * d]);
      m.set(`${p}.block.5.bias`, [d]);
    }
    const next = layout.dims[s + 1];
    if (next !== undefined) {
      const p = `${f}.${downsampleIndex(s)}`;
      m.set(`${p}.0.weight`, [d]);
      m.set(`${p}.0.bias`, [d]);
      m.set(`${p}.1.weight`, [next, d, 2, 2]);
      m.set(`${p}.1.bias`, [next]);
    }
  });
  const width = layout.dims[layout.dims.length - 1] ?? 0;
  for (const head of HEADS) {
    let inFeatures = width;
    HEAD_LINEARS.forEach((li, k) => {
      const out = HEAD_WIDTHS[k] as number;
      m.set(`${head}.${li}.weight`, [out, inFeatures]);
      m.set(`${head}.${li}.bias`, [out]);
      const bn = HEAD_NORMS[k];
      if (bn !== undefined) {
        for (const p of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`${head}.${bn}.${p}`, [out]);
      }
      inFeatures = out;
    });
  }
  return m;
}

const isIgnored = (name: string): boolean => name.endsWith('.num_batches_tracked');

/** Refuses weights that differ from `layout` in any tensor name, shape or dtype (all problems at once). */
export function checkWeights(weights: WeightsFile, layout: ConvNextLayout, against: string): void {
  checkWeightTable(weights, expectedShapes(layout), against, isIgnored);
}
