/**
 * LocalizationNet's config schema: its fields in config.json (the backbone, a ConvNeXt preset or a
 * custom layout, the input shape and the uncertainty clamp) and the torchvision ConvNeXt presets.
 * Pure: takes the parsed fields; it knows nothing about weights (weights.ts checks them against this).
 */
import { finiteNumber, positiveInts, type ConfigRefusal } from '../../checkpoint';
import type { ParsedEnvelope } from '../architecture';

export const CONVNEXT_PRESETS = {
  convnext_tiny: { depths: [3, 3, 9, 3], dims: [96, 192, 384, 768] },
  convnext_small: { depths: [3, 3, 27, 3], dims: [96, 192, 384, 768] },
  convnext_base: { depths: [3, 3, 27, 3], dims: [128, 256, 512, 1024] },
  convnext_large: { depths: [3, 3, 27, 3], dims: [192, 384, 768, 1536] },
} as const;

export type PresetName = keyof typeof CONVNEXT_PRESETS;
export type BackboneName = PresetName | 'convnext';

/** A type alias, not an interface, so it is a `Record<string, unknown>` where configs are handled generically. */
export type LocalizationNetConfig = {
  readonly architecture: 'LocalizationNet';
  readonly backbone: BackboneName;
  /**
   * Blocks per stage: the preset's, or the config's own for `convnext`. Absent only for a `convnext`
   * config that leaves the layout to the weights (weights.ts reads it from them).
   */
  readonly depths?: readonly number[];
  /** Widths per stage, as `depths`. */
  readonly dims?: readonly number[];
  /** [channels, mel bins, frames], channels first, without the batch axis. */
  readonly inputShape: readonly [number, number, number];
  readonly uncertaintyMin: number;
  readonly uncertaintyMax: number;
  /** Training run id, when the training side records it. */
  readonly runId?: string;
};

/** The fields LocalizationNet reads beside `architecture` and `run_id`, in the order messages list them. */
export const CONFIG_FIELDS = ['backbone', 'depths', 'dims', 'input_shape', 'uncertainty_min', 'uncertainty_max'];

export function parseLocalizationNetConfig(
  c: Readonly<Record<string, unknown>>,
  envelope: ParsedEnvelope,
  fail: ConfigRefusal,
): LocalizationNetConfig {
  const backbone = c.backbone;
  if (typeof backbone !== 'string' || !(backbone === 'convnext' || Object.hasOwn(CONVNEXT_PRESETS, backbone))) {
    return fail('backbone', `one of convnext, ${Object.keys(CONVNEXT_PRESETS).join(', ')}`, backbone);
  }
  let depths: readonly number[] | undefined;
  let dims: readonly number[] | undefined;
  if (backbone === 'convnext') {
    depths = c.depths === undefined ? undefined : positiveInts(c.depths, 'depths', fail);
    dims = c.dims === undefined ? undefined : positiveInts(c.dims, 'dims', fail);
    if (depths && dims && depths.length !== dims.length)
      fail('dims', `${depths.length} entries (one per stage, as depths)`, c.dims);
  } else {
    const preset = CONVNEXT_PRESETS[backbone as PresetName];
    if (c.dims !== undefined)
      fail('dims', `absent (only with backbone "convnext"; ${backbone} has ${JSON.stringify(preset.dims)})`, c.dims);
    if (c.depths !== undefined && JSON.stringify(c.depths) !== JSON.stringify(preset.depths)) {
      fail('depths', `${JSON.stringify(preset.depths)} (the ${backbone} preset) or absent`, c.depths);
    }
    depths = preset.depths;
    dims = preset.dims;
  }
  const shape = positiveInts(c.input_shape, 'input_shape', fail);
  if (shape.length !== 3 || shape[0] !== 3) fail('input_shape', '[3, mel_bins, frames]', c.input_shape);
  const umin = finiteNumber(c.uncertainty_min, 'uncertainty_min', fail);
  const umax = finiteNumber(c.uncertainty_max, 'uncertainty_max', fail);
  if (!(umin < umax)) fail('uncertainty_max', `a number above uncertainty_min (${umin})`, c.uncertainty_max);
  return {
    architecture: 'LocalizationNet',
    backbone: backbone as BackboneName,
    ...(depths ? { depths } : {}),
    ...(dims ? { dims } : {}),
    inputShape: shape as unknown as [number, number, number],
    uncertaintyMin: umin,
    uncertaintyMax: umax,
    ...(envelope.runId !== undefined ? { runId: envelope.runId } : {}),
  };
}
