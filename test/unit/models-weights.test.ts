import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError, SafetensorsFile } from '../../checkpoint';
import {
  buildLocalizationNet,
  checkWeights,
  CONVNEXT_PRESETS,
  expectedShapes,
  inferLayout,
  loadBundle,
  ModelError,
  resolveLayout,
  type PresetName,
} from '../../models';
import { tempDir } from './checkpoint-safetensors-writer';
import { bundleWith, loadLocalizationNetBundle, smallEntries, writeSafetensors, type Entry } from './models-fixtures';

/** Header-only weights of a preset (sparse file), optionally with edits. */
function presetEntries(
  preset: PresetName,
  edit: (m: Map<string, Entry>) => void = () => undefined,
): Map<string, Entry> {
  const m = new Map<string, Entry>();
  for (const [name, shape] of expectedShapes(CONVNEXT_PRESETS[preset])) m.set(name, { dtype: 'F32', shape });
  m.set('position_head.1.num_batches_tracked', { dtype: 'I64', shape: [] });
  edit(m);
  return m;
}

async function check(preset: PresetName, entries: Map<string, Entry>): Promise<ModelError> {
  const path = join(tempDir(), 'model.safetensors');
  writeSafetensors(path, entries);
  const weights = await SafetensorsFile.open(path);
  const config = {
    architecture: 'LocalizationNet',
    backbone: preset,
    inputShape: [3, 128, 32],
    uncertaintyMin: 0.01,
    uncertaintyMax: 1,
  } as const;
  const { layout, against } = resolveLayout(config, weights);
  try {
    checkWeights(weights, layout, against);
  } catch (err) {
    expect(err).toBeInstanceOf(ModelError);
    return err as ModelError;
  }
  throw new Error('weights were accepted');
}

describe('key and shape checks against the four presets', () => {
  it.each(Object.keys(CONVNEXT_PRESETS) as PresetName[])(
    '%s: its own weights pass; the layout is read back from them',
    async (preset) => {
      const path = join(tempDir(), 'model.safetensors');
      writeSafetensors(path, presetEntries(preset));
      const weights = await SafetensorsFile.open(path);
      expect(inferLayout(weights)).toEqual(CONVNEXT_PRESETS[preset]);
      expect(() => checkWeights(weights, CONVNEXT_PRESETS[preset], preset)).not.toThrow();
    },
  );

  it("ConvNeXt-Large with a 2048-wide head (the original code's mistake) names both head tensors and both shapes", async () => {
    const err = await check(
      'convnext_large',
      presetEntries('convnext_large', (m) => {
        m.set('position_head.0.weight', { dtype: 'F32', shape: [128, 2048] });
        m.set('uncertainty_head.0.weight', { dtype: 'F32', shape: [128, 2048] });
      }),
    );
    expect(err.mismatches).toEqual([
      { tensor: 'position_head.0.weight', expected: '[128, 1536]', actual: '[128, 2048]' },
      { tensor: 'uncertainty_head.0.weight', expected: '[128, 1536]', actual: '[128, 2048]' },
    ]);
    expect(err.message).toContain(
      'weights do not match convnext_large: position_head.0.weight: expected [128, 1536], got [128, 2048]',
    );
  });

  it('a config naming convnext_tiny with convnext_small weights lists the extra stage-3 blocks as unexpected', async () => {
    const err = await check('convnext_tiny', presetEntries('convnext_small'));
    expect(err.missing).toEqual([]);
    expect(err.unexpected).toContain('backbone.0.5.26.block.5.weight');
    expect(err.unexpected).toHaveLength(18 * 9);
    expect(err.message).toMatch(/unexpected tensors: .* and 150 more/);
  });

  it('a config naming convnext_base with convnext_large weights names the stem shape', async () => {
    const err = await check('convnext_base', presetEntries('convnext_large'));
    expect(err.mismatches[0]).toEqual({
      tensor: 'backbone.0.0.0.weight',
      expected: '[128, 3, 4, 4]',
      actual: '[192, 3, 4, 4]',
    });
  });

  it('missing and unexpected keys are listed by name; num_batches_tracked is ignored; dtype is checked', async () => {
    const err = await check(
      'convnext_tiny',
      presetEntries('convnext_tiny', (m) => {
        m.delete('backbone.0.1.2.layer_scale');
        m.delete('uncertainty_head.5.running_var');
        m.set('classifier.2.weight', { dtype: 'F32', shape: [1000, 768] });
        m.set('uncertainty_head.5.num_batches_tracked', { dtype: 'I64', shape: [] });
        m.set('position_head.8.bias', { dtype: 'F16', shape: [2] });
      }),
    );
    expect(err.missing).toEqual(['backbone.0.1.2.layer_scale', 'uncertainty_head.5.running_var']);
    expect(err.unexpected).toEqual(['classifier.2.weight']);
    expect(err.mismatches).toEqual([{ tensor: 'position_head.8.bias', expected: 'F32 [2]', actual: 'F16 [2]' }]);
  });
});

describe('custom ConvNeXt bundles', () => {
  it('a config whose dims differ from the weights is refused with the tensor and both shapes', async () => {
    const dir = bundleWith(await smallEntries(), {
      architecture: 'LocalizationNet',
      backbone: 'convnext',
      depths: [1, 1, 2, 1],
      dims: [8, 16, 24, 40],
      input_shape: [3, 128, 32],
      uncertainty_min: 0.01,
      uncertainty_max: 1,
    });
    const bundle = await loadLocalizationNetBundle(dir);
    expect(() => buildLocalizationNet(bundle)).toThrow(
      'backbone.0.7.0.layer_scale: expected [40, 1, 1], got [32, 1, 1]',
    );
  });

  it('a config without depths/dims takes them from the weights', async () => {
    const dir = bundleWith(await smallEntries(), {
      architecture: 'LocalizationNet',
      backbone: 'convnext',
      input_shape: [3, 128, 32],
      uncertainty_min: 0.01,
      uncertainty_max: 1,
    });
    expect(buildLocalizationNet(await loadLocalizationNetBundle(dir)).layout).toEqual({
      depths: [1, 1, 2, 1],
      dims: [8, 16, 24, 32],
    });
  });

  it('an input too small for the stages is refused', async () => {
    const dir = bundleWith(await smallEntries(), {
      architecture: 'LocalizationNet',
      backbone: 'convnext',
      input_shape: [3, 128, 16],
      uncertainty_min: 0.01,
      uncertainty_max: 1,
    });
    await expect(loadLocalizationNetBundle(dir).then((b) => buildLocalizationNet(b))).rejects.toThrow(
      /input_shape \[3, 128, 16\] is too small for 4 stages/,
    );
  });

  it('NaN in a weight is refused at load, naming the tensor', async () => {
    const entries = await smallEntries();
    const w = entries.get('backbone.0.5.1.block.3.weight')!;
    const bytes = Buffer.from(w.data!);
    bytes.writeFloatLE(Number.NaN, 4 * 17);
    entries.set('backbone.0.5.1.block.3.weight', { ...w, data: bytes });
    const err = await loadBundle(bundleWith(entries)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).message).toMatch(
      /tensor 'backbone.0.5.1.block.3.weight': expected finite values, got NaN or Inf at element 17/,
    );
  });
});
