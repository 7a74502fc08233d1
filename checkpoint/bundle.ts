/**
 * Loads a checkpoint bundle directory (config.json + model.safetensors [+ reference.safetensors]):
 * schema-checked config, validated weights header, the weights' sha256 (on a worker thread) and a
 * streamed NaN/Inf scan (on this one), in parallel. It must not interpret the weights (that is models/) nor fetch from the
 * object store (callers stage the bundle locally first).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseBundleConfig, type BundleConfig } from './bundle-config';
import { CheckpointError } from './checkpoint-error';
import { SafetensorsFile } from './safetensors-file';
import { sha256FileInWorker } from './sha256-worker';

export const BUNDLE_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  reference: 'reference.safetensors',
} as const;

export interface Bundle {
  readonly dir: string;
  readonly config: BundleConfig;
  readonly weights: SafetensorsFile;
  /** sha256 (hex) of model.safetensors: the checkpoint's identity in metadata and reports. */
  readonly weightsSha256: string;
  readonly referencePath: string;
}

export interface LoadBundleOptions {
  /** Scan every float weight for NaN/Inf (default true). */
  readonly checkFinite?: boolean;
}

export async function loadBundle(dir: string, options: LoadBundleOptions = {}): Promise<Bundle> {
  const config = await readConfig(join(dir, BUNDLE_FILES.config));
  const weights = await SafetensorsFile.open(join(dir, BUNDLE_FILES.weights));
  // Two cores: the identity hash on a worker thread, the NaN/Inf scan here, both over the page cache.
  const hashing = sha256FileInWorker(weights.path);
  hashing.catch(() => undefined); // awaited below; a scan failure must not leave it unhandled
  if (options.checkFinite ?? true) await weights.scan({ finite: true });
  const weightsSha256 = await hashing;
  return { dir, config, weights, weightsSha256, referencePath: join(dir, BUNDLE_FILES.reference) };
}

export async function readConfig(path: string): Promise<BundleConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CheckpointError({ file: path, subject: 'file', expected: 'a readable config.json', actual: (err as NodeJS.ErrnoException).code ?? String(err) });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CheckpointError({ file: path, subject: 'config', expected: 'JSON', actual: 'invalid JSON' }, (err as Error).message);
  }
  return parseBundleConfig(json, path);
}
