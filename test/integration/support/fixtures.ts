/**
 * Checkpoint bundles made by the real PyTorch LocalizationNet (scripts/fixtures/make_localizationnet.py,
 * run with Debian's /usr/bin/python3 and its torch), for tests that need a fresh bundle.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findProjectRoot } from '../../../config/environment';
import { afterAll } from 'vitest';

const run = promisify(execFile);

export interface FixtureOptions {
  backbone?: string;
  depths?: number[];
  dims?: number[];
  seed?: number;
  samples?: number;
  /** Write this backbone name into config.json instead of the real one (mismatch tests). */
  configBackbone?: string;
  /** One input's shape `[3, mel_bins, frames]` (config.json input_shape); default [3, 128, 32]. */
  inputShape?: number[];
  /** Also write calibration.safetensors with this many inputs (int8 calibration); default none. */
  calibrationSamples?: number;
}

/** A small custom ConvNeXt: the fastest real LocalizationNet there is. */
export const SMALL_CONVNEXT: FixtureOptions = { backbone: 'convnext', depths: [1, 1, 2, 1], dims: [8, 16, 24, 32] };

/** Bundles made by this test process, removed after the importing test file (a convnext_tiny bundle is ~220 MB). */
const made: string[] = [];
// Registered on the importing test file's root suite (vitest loads this module once per file).
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export async function makeBundle(options: FixtureOptions = SMALL_CONVNEXT): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), 'onnx-export-bundle-'));
  made.push(out);
  const args = [
    join(findProjectRoot(), 'scripts', 'fixtures', 'make_localizationnet.py'),
    '--out',
    out,
    '--backbone',
    options.backbone ?? 'convnext',
  ];
  if (options.depths) args.push('--depths', options.depths.join(','));
  if (options.dims) args.push('--dims', options.dims.join(','));
  args.push('--seed', String(options.seed ?? 1), '--samples', String(options.samples ?? 8));
  if (options.configBackbone) args.push('--config-backbone', options.configBackbone);
  if (options.inputShape) args.push('--input-shape', options.inputShape.join(','));
  if (options.calibrationSamples) args.push('--calibration-samples', String(options.calibrationSamples));
  await run('/usr/bin/python3', args, { timeout: 300_000 });
  return out;
}
