/**
 * Loads a checkpoint bundle directory (config.json + model.safetensors [+ reference.safetensors]
 * [+ calibration.safetensors, read by quantize/ only]):
 * schema-checked config, validated weights header, the weights' sha256 and a NaN/Inf check of every
 * float weight. The hash and (for F32/F64) a fast finite test share one pass on a worker thread; any
 * tensor that fails it, or has another float dtype, gets the exact scan here (in file order, so the
 * error names the first offending tensor and element). `openBundle` hands out the bundle before that
 * pass ends, so a caller (emission) can work meanwhile and await the verdict before committing.
 * It must not interpret the weights (that is models/) nor fetch from the object store (callers stage
 * the bundle locally first).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REFERENCE_FILE } from '../common/export-contract';
import { parseBundleConfig, type BundleConfig } from './bundle-config';
import { CheckpointError } from './checkpoint-error';
import { SAFETENSORS_DTYPES } from './safetensors-dtypes';
import { SafetensorsFile } from './safetensors-file';
import { hashFileInWorker, type FiniteCheckRange } from './sha256-worker';

export const BUNDLE_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  reference: REFERENCE_FILE,
  /** Optional: int8 calibration inputs (every graph input, in the reference-case form); without it the reference inputs calibrate. */
  calibration: 'calibration.safetensors',
} as const;

/** The files every bundle has. */
export const REQUIRED_BUNDLE_FILES = [BUNDLE_FILES.config, BUNDLE_FILES.weights, BUNDLE_FILES.reference] as const;
/** The files a bundle may have; fetched when present, never required. */
export const OPTIONAL_BUNDLE_FILES = [BUNDLE_FILES.calibration] as const;

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

/** A bundle whose weights are still being hashed and checked. */
export interface OpenedBundle {
  readonly bundle: Omit<Bundle, 'weightsSha256'>;
  /**
   * The weights' sha256, once hashed and (unless `checkFinite: false`) found finite; rejects with the
   * CheckpointError naming the first non-finite tensor (file order) otherwise. Always handled, so it
   * may be awaited late.
   */
  readonly weightsSha256: Promise<string>;
}

/** Validates config and header now; hashes and scans the weights in the background. */
export async function openBundle(dir: string, options: LoadBundleOptions = {}): Promise<OpenedBundle> {
  const config = await readConfig(join(dir, BUNDLE_FILES.config));
  const weights = await SafetensorsFile.open(join(dir, BUNDLE_FILES.weights));
  const weightsSha256 = verifyWeights(weights, options.checkFinite ?? true);
  weightsSha256.catch(() => undefined); // the caller awaits it, possibly after other awaits
  return { bundle: { dir, config, weights, referencePath: join(dir, BUNDLE_FILES.reference) }, weightsSha256 };
}

export async function loadBundle(dir: string, options: LoadBundleOptions = {}): Promise<Bundle> {
  const { bundle, weightsSha256 } = await openBundle(dir, options);
  return { ...bundle, weightsSha256: await weightsSha256 };
}

async function verifyWeights(weights: SafetensorsFile, checkFinite: boolean): Promise<string> {
  const fast: FiniteCheckRange[] = [];
  const fastNames: string[] = [];
  const exact = new Set<string>();
  if (checkFinite) {
    for (const t of weights.tensors) {
      if (!SAFETENSORS_DTYPES[t.dtype].float || t.length === 0) continue;
      if (t.dtype === 'F32' || t.dtype === 'F64') {
        fast.push({ offset: t.offset, length: t.length, width: t.dtype === 'F32' ? 4 : 8 });
        fastNames.push(t.name);
      } else {
        exact.add(t.name);
      }
    }
  }
  const { sha256, nonFinite } = await hashFileInWorker(weights.path, fast);
  for (const i of nonFinite) exact.add(fastNames[i] as string);
  // Throws the CheckpointError for the first non-finite tensor in file order, as a full scan would.
  if (exact.size > 0) await weights.scan({ finite: true, only: exact });
  return sha256;
}
export async function readConfig(path: string): Promise<BundleConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CheckpointError({
      file: path,
      subject: 'file',
      expected: 'a readable config.json',
      actual: (err as NodeJS.ErrnoException).code ?? String(err),
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(
      { file: path, subject: 'config', expected: 'JSON', actual: 'invalid JSON' },
      (err as Error).message,
    );
  }
  return parseBundleConfig(json, path);
}
