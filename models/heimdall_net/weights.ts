/**
 * HeimdallNet's weight check (spec sections 1.3 and 1.4): R and whether calibration is on, read from
 * the weights (config.json may state them; a value that disagrees is refused naming the field); the
 * expected key → shape table for that R; and the check of a weights file against it (missing,
 * unexpected, shape and dtype mismatches, all reported at once; `num_batches_tracked` is accepted
 * beside any BatchNorm and ignored). It must not build graphs or read tensor data.
 */
import { formatShape, type WeightsFile } from '../../checkpoint';
import { ModelError } from '../model-error';
import { checkWeightTable } from '../weight-table';
import type { HeimdallNetConfig } from './config';

/** Fixed internal widths (spec 1: iq_dim, feature_dim, receiver_embed_dim, hidden_dim). */
export const IQ_DIM = 256;
export const FEATURE_DIM = 128;
export const EMBED_DIM = 64;
export const HIDDEN = 256;
/** Per-receiver scalar features [SNR, PSD, freq_offset, lat, lon, alt] and positions [lat, lon, alt]. */
export const FEATURES_PER_RECEIVER = 6;
export const POSITION_DIMS = 3;

export const ENCODER = 'receiver_encoder';
export const IQ_ENCODER = `${ENCODER}.iq_encoder`;
export const EMBEDDINGS = `${ENCODER}.receiver_embeddings.weight`;
export const CALIBRATION = `${ENCODER}.calibration_layers`;

/** An MBConv1D block (spec 1.4): widths, expansion and stride; hid, sq and residual follow from them. */
export interface MbConvBlock {
  readonly cin: number;
  readonly cout: number;
  readonly expand: number;
  readonly stride: number;
}

export const STEM_CHANNELS = 32;
export const HEAD_CHANNELS = 192;
export const MBCONV_BLOCKS: readonly MbConvBlock[] = [
  { cin: 32, cout: 16, expand: 1, stride: 1 },
  { cin: 16, cout: 24, expand: 6, stride: 2 },
  { cin: 24, cout: 24, expand: 6, stride: 1 },
  { cin: 24, cout: 40, expand: 6, stride: 2 },
  { cin: 40, cout: 40, expand: 6, stride: 1 },
  { cin: 40, cout: 80, expand: 6, stride: 2 },
  { cin: 80, cout: 80, expand: 6, stride: 1 },
  { cin: 80, cout: 80, expand: 6, stride: 1 },
  { cin: 80, cout: 112, expand: 6, stride: 1 },
  { cin: 112, cout: 112, expand: 6, stride: 1 },
];

export const hiddenWidth = (k: MbConvBlock): number => k.cin * k.expand;
/** The squeeze width comes from Cin, not from hid (spec 1.4). */
export const squeezeWidth = (k: MbConvBlock): number => Math.max(1, Math.floor(k.cin / 4));
export const isResidual = (k: MbConvBlock): boolean => k.stride === 1 && k.cin === k.cout;

/** What the weights say: R and whether H6 (calibration) is on. */
export interface HeimdallNetLayout {
  readonly maxReceivers: number;
  readonly useCalibration: boolean;
}

const BATCH_NORM_PARAMS = ['weight', 'bias', 'running_mean', 'running_var'] as const;

/** Every tensor HeimdallNet with this layout has, with its shape, in state_dict order (num_batches_tracked excluded). */
export function expectedShapes(layout: HeimdallNetLayout): Map<string, readonly number[]> {
  const m = new Map<string, readonly number[]>();
  const linear = (p: string, out: number, inp: number) => {
    m.set(`${p}.weight`, [out, inp]);
    m.set(`${p}.bias`, [out]);
  };
  const norm = (p: string, c: number) => {
    m.set(`${p}.weight`, [c]);
    m.set(`${p}.bias`, [c]);
  };
  const batchNorm = (p: string, c: number) => {
    for (const q of BATCH_NORM_PARAMS) m.set(`${p}.${q}`, [c]);
  };

  m.set(EMBEDDINGS, [layout.maxReceivers, EMBED_DIM]);
  m.set(`${IQ_ENCODER}.stem.0.weight`, [STEM_CHANNELS, 2, 3]);
  batchNorm(`${IQ_ENCODER}.stem.1`, STEM_CHANNELS);
  MBCONV_BLOCKS.forEach((k, i) => {
    const p = `${IQ_ENCODER}.blocks.${i}`;
    const [hid, sq] = [hiddenWidth(k), squeezeWidth(k)];
    if (k.expand === 1) {
      linear(`${p}.se_block.1`, sq, hid);
      linear(`${p}.se_block.3`, hid, sq);
      m.set(`${p}.conv_block.0.weight`, [hid, 1, 3]);
      batchNorm(`${p}.conv_block.1`, hid);
    } else {
      batchNorm(`${p}.se_block.0`, hid);
      linear(`${p}.se_block.4`, sq, hid);
      linear(`${p}.se_block.6`, hid, sq);
      m.set(`${p}.conv_block.0.weight`, [hid, k.cin, 1]);
      batchNorm(`${p}.conv_block.1`, hid);
      m.set(`${p}.conv_block.3.weight`, [hid, 1, 3]);
    }
    m.set(`${p}.project.0.weight`, [k.cout, hid, 1]);
    batchNorm(`${p}.project.1`, k.cout);
  });
  const last = MBCONV_BLOCKS[MBCONV_BLOCKS.length - 1] as MbConvBlock;
  m.set(`${IQ_ENCODER}.head.0.weight`, [HEAD_CHANNELS, last.cout, 1]);
  batchNorm(`${IQ_ENCODER}.head.1`, HEAD_CHANNELS);
  linear(`${IQ_ENCODER}.head.5`, IQ_DIM, HEAD_CHANNELS);

  linear(`${ENCODER}.feature_encoder.0`, 64, FEATURES_PER_RECEIVER);
  norm(`${ENCODER}.feature_encoder.1`, 64);
  linear(`${ENCODER}.feature_encoder.3`, FEATURE_DIM, 64);
  linear(`${ENCODER}.adaptive_fusion.0`, HIDDEN, IQ_DIM + FEATURE_DIM + EMBED_DIM);
  norm(`${ENCODER}.adaptive_fusion.1`, HIDDEN);
  linear(`${ENCODER}.adaptive_fusion.3`, HIDDEN, HIDDEN);
  if (layout.useCalibration) {
    for (let k = 0; k < layout.maxReceivers; k++) {
      linear(`${CALIBRATION}.${k}.0`, HIDDEN, HIDDEN);
      norm(`${CALIBRATION}.${k}.1`, HIDDEN);
    }
  }

  linear('set_aggregator.receiver_transform.0', HIDDEN, HIDDEN);
  norm('set_aggregator.receiver_transform.1', HIDDEN);
  linear('set_aggregator.quality_net.0', 64, HIDDEN);
  linear('set_aggregator.quality_net.2', 1, 64);
  linear('set_aggregator.pool_combiner.0', HIDDEN, 3 * HIDDEN);
  norm('set_aggregator.pool_combiner.1', HIDDEN);

  linear('geometry_encoder.distance_encoder.0', 32, 1);
  linear('geometry_encoder.distance_encoder.2', 64, 32);
  linear('geometry_encoder.angle_encoder.0', 32, 2);
  linear('geometry_encoder.angle_encoder.2', 64, 32);
  linear('geometry_encoder.altitude_encoder.0', 32, 1);
  linear('geometry_encoder.altitude_encoder.2', 32, 32);
  linear('geometry_encoder.geometry_aggregator.0', HIDDEN, 64 + 64 + 32);
  norm('geometry_encoder.geometry_aggregator.1', HIDDEN);

  linear('global_fusion.0', HIDDEN, 2 * HIDDEN);
  norm('global_fusion.1', HIDDEN);
  linear('position_head', 2, HIDDEN);
  linear('uncertainty_head.0', 64, HIDDEN);
  linear('uncertainty_head.2', 2, 64);
  return m;
}

/** `heimdall_net R=10 with calibration`: what messages say the weights were checked against. */
export function describeLayout(layout: HeimdallNetLayout): string {
  return `heimdall_net R=${layout.maxReceivers} ${layout.useCalibration ? 'with' : 'without'} calibration`;
}

/**
 * R and calibration as the weights have them: R is the row count of the receiver embedding table,
 * calibration is on when any `calibration_layers.*` tensor exists. A config value that disagrees is
 * refused naming its field; so is a config R when the weights cannot say theirs.
 */
export function resolveLayout(config: HeimdallNetConfig, weights: WeightsFile): HeimdallNetLayout {
  const embeddings = weights.get(EMBEDDINGS);
  const fromWeights = embeddings?.shape.length === 2 ? embeddings.shape[0] : undefined;
  const maxReceivers = fromWeights ?? config.maxReceivers;
  const useCalibration = weights.tensors.some((t) => t.name.startsWith(`${CALIBRATION}.`));
  const refusals: string[] = [];
  if (config.maxReceivers !== undefined && fromWeights !== undefined && config.maxReceivers !== fromWeights) {
    refusals.push(
      `max_receivers: the config says ${config.maxReceivers}, the weights have R = ${fromWeights} (${EMBEDDINGS} ${formatShape(embeddings?.shape ?? [])})`,
    );
  }
  if (config.useCalibration !== undefined && config.useCalibration !== useCalibration) {
    refusals.push(
      `use_calibration: the config says ${config.useCalibration}, the weights have ${useCalibration ? '' : 'no '}${CALIBRATION}.* tensors`,
    );
  }
  if (maxReceivers === undefined || maxReceivers < 1) {
    throw new ModelError({
      file: weights.path,
      against: 'heimdall_net',
      ...(embeddings ? {} : { missing: [EMBEDDINGS] }),
      detail: `R (max_receivers) is read from ${EMBEDDINGS}, which must be [R, ${EMBED_DIM}]${embeddings ? `, got ${formatShape(embeddings.shape)}` : ''}`,
    });
  }
  if (refusals.length) {
    throw new ModelError({
      file: weights.path,
      against: describeLayout({ maxReceivers, useCalibration }),
      detail: refusals.join('; '),
    });
  }
  return { maxReceivers, useCalibration };
}

/** A BatchNorm's step counter: accepted beside a BatchNorm the table expects, never read. */
function isBatchNormCounter(name: string, expected: ReadonlyMap<string, readonly number[]>): boolean {
  const suffix = '.num_batches_tracked';
  return name.endsWith(suffix) && expected.has(`${name.slice(0, -suffix.length)}.running_var`);
}

/** Refuses weights that differ from `layout` in any tensor name, shape or dtype (all problems at once). */
export function checkWeights(weights: WeightsFile, layout: HeimdallNetLayout): void {
  const expected = expectedShapes(layout);
  checkWeightTable(weights, expected, describeLayout(layout), (name) => isBatchNormCounter(name, expected));
}

/** The weight check as the plug-in runs it: the layout from the weights (and config), every tensor checked. */
export function checkHeimdallNetWeights(config: HeimdallNetConfig, weights: WeightsFile): HeimdallNetLayout {
  const layout = resolveLayout(config, weights);
  checkWeights(weights, layout);
  return layout;
}
