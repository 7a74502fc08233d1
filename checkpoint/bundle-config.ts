/**
 * Schema check of a bundle's config.json (shared/DESIGN.md, "Contracts"). Pure: takes the parsed JSON
 * and the file name for errors; it knows preset names and their stage layout but nothing about weights
 * (models/ checks the weights against this config).
 */
import { CheckpointError } from './checkpoint-error';

export const CONVNEXT_PRESETS = {
  convnext_tiny: { depths: [3, 3, 9, 3], dims: [96, 192, 384, 768] },
  convnext_small: { depths: [3, 3, 27, 3], dims: [96, 192, 384, 768] },
  convnext_base: { depths: [3, 3, 27, 3], dims: [128, 256, 512, 1024] },
  convnext_large: { depths: [3, 3, 27, 3], dims: [192, 384, 768, 1536] },
} as const;

export type PresetName = keyof typeof CONVNEXT_PRESETS;
export type BackboneName = PresetName | 'convnext';

export interface BundleConfig {
  readonly architecture: 'LocalizationNet';
  readonly backbone: BackboneName;
  /**
   * Blocks per stage: the preset's, or the config's own for `convnext`. Absent only for a `convnext`
   * config that leaves the layout to the weights (models/ reads it from them).
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
}

const KNOWN_FIELDS = [
  'architecture',
  'backbone',
  'depths',
  'dims',
  'input_shape',
  'uncertainty_min',
  'uncertainty_max',
  'run_id',
];

export function parseBundleConfig(json: unknown, file: string): BundleConfig {
  const fail = (subject: string, expected: string, actual: unknown): never => {
    throw new CheckpointError({ file, subject, expected, actual: JSON.stringify(actual) ?? 'undefined' });
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('config', 'a JSON object', json);
  const c = json as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (!KNOWN_FIELDS.includes(key)) fail(key, `no unknown fields (known: ${KNOWN_FIELDS.join(', ')})`, key);
  }
  if (c.architecture !== 'LocalizationNet') fail('architecture', '"LocalizationNet"', c.architecture);
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
  if (c.run_id !== undefined && typeof c.run_id !== 'string') fail('run_id', 'a string', c.run_id);
  return {
    architecture: 'LocalizationNet',
    backbone: backbone as BackboneName,
    ...(depths ? { depths } : {}),
    ...(dims ? { dims } : {}),
    inputShape: shape as unknown as [number, number, number],
    uncertaintyMin: umin,
    uncertaintyMax: umax,
    ...(typeof c.run_id === 'string' ? { runId: c.run_id } : {}),
  };
}

type Fail = (subject: string, expected: string, actual: unknown) => never;

function positiveInts(v: unknown, field: string, fail: Fail): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isSafeInteger(x) && (x as number) > 0)) {
    return fail(field, 'a non-empty array of positive integers', v);
  }
  return v as number[];
}

function finiteNumber(v: unknown, field: string, fail: Fail): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return fail(field, 'a finite number', v);
  return v;
}
