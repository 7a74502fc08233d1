import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../checkpoint';
import { loadBundle, parseBundleConfig } from '../../models';
import { tempDir } from './checkpoint-safetensors-writer';
import { localizationNetConfig } from './models-fixtures';

/** The committed small bundle (scripts/fixtures/data, made by make_localizationnet.py). */
const SMALL = join(__dirname, '../../scripts/fixtures/data/localizationnet-small');

const valid = {
  architecture: 'LocalizationNet',
  backbone: 'convnext',
  depths: [1, 1, 2, 1],
  dims: [8, 16, 24, 32],
  input_shape: [3, 128, 32],
  uncertainty_min: 0.01,
  uncertainty_max: 1.0,
};

function refused(json: unknown): CheckpointError {
  try {
    parseBundleConfig(json, 'bundle/config.json');
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).file).toBe('bundle/config.json');
    return err as CheckpointError;
  }
  throw new Error('config was accepted');
}

describe('parseBundleConfig', () => {
  it('accepts a custom convnext and fills presets in', () => {
    expect(parseBundleConfig(valid, 'c')).toMatchObject({
      backbone: 'convnext',
      depths: [1, 1, 2, 1],
      dims: [8, 16, 24, 32],
      inputShape: [3, 128, 32],
    });
    const large = localizationNetConfig(
      parseBundleConfig({ ...valid, backbone: 'convnext_large', depths: undefined, dims: undefined }, 'c'),
    );
    expect(large.dims).toEqual([192, 384, 768, 1536]);
    expect(large.depths).toEqual([3, 3, 27, 3]);
  });

  it.each([
    ['architecture', { architecture: 'ResNet' }, '"ResNet"'],
    ['backbone', { backbone: 'convnext_huge' }, '"convnext_huge"'],
    ['depths', { depths: [1, 0] }, '[1,0]'],
    ['dims', { dims: [8, 16] }, '[8,16]'],
    ['input_shape', { input_shape: [1, 128, 32] }, '[1,128,32]'],
    ['uncertainty_min', { uncertainty_min: 'low' }, '"low"'],
    ['uncertainty_max', { uncertainty_max: 0.001 }, '0.001'],
    ['run_id', { run_id: 42 }, '42'],
    ['colour', { colour: 'red' }, '"colour"'],
  ])('names the field: %s', (field, patch, actual) => {
    const err = refused({ ...valid, ...patch });
    expect(err.subject).toBe(field);
    expect(err.actual).toBe(actual);
    expect(err.message).toContain(`bundle/config.json: ${field}`);
  });

  it('refuses dims with a preset and depths that differ from it', () => {
    expect(refused({ ...valid, backbone: 'convnext_tiny', depths: undefined }).subject).toBe('dims');
    const err = refused({ ...valid, backbone: 'convnext_tiny', dims: undefined, depths: [3, 3, 27, 3] });
    expect(err.expected).toMatch(/\[3,3,9,3\]/);
  });

  it('refuses a missing field', () => {
    const { uncertainty_min: _drop, ...rest } = valid;
    expect(refused(rest).subject).toBe('uncertainty_min');
  });
});

describe('loadBundle', () => {
  it('loads the committed small bundle: config, weights, sha256', async () => {
    const bundle = await loadBundle(SMALL);
    expect(localizationNetConfig(bundle.config).dims).toEqual([8, 16, 24, 32]);
    expect(bundle.weights.get('position_head.8.weight')?.shape).toEqual([2, 64]);
    expect(bundle.weights.get('position_head.1.num_batches_tracked')?.dtype).toBe('I64');
    expect(bundle.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names config.json when it is missing or not JSON', async () => {
    const dir = tempDir();
    copyFileSync(join(SMALL, 'model.safetensors'), join(dir, 'model.safetensors'));
    await expect(loadBundle(dir)).rejects.toThrow(
      `${join(dir, 'config.json')}: file: expected a readable config.json, got ENOENT`,
    );
    writeFileSync(join(dir, 'config.json'), '{"architecture": ');
    await expect(loadBundle(dir)).rejects.toThrow(/config.json: config: .*expected JSON, got invalid JSON/);
  });
});
