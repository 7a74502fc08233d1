/**
 * Opens a bundle's weights file (model.safetensors): validated header, the weights' sha256 and a
 * NaN/Inf check of every float weight. The hash and (for F32/F64) a fast finite test share one pass
 * on a worker thread; any tensor that fails it, or has another float dtype, gets the exact scan here
 * (in file order, so the error names the first offending tensor and element). `openWeights` hands
 * out the file before that pass ends, so a caller (emission) can work meanwhile and await the verdict
 * before committing. It must not interpret the weights (that is models/' architectures), read
 * config.json (bundle-config.ts) nor fetch from the object store (callers stage the bundle locally).
 */
import { SAFETENSORS_DTYPES } from './safetensors-dtypes';
import { SafetensorsFile } from './safetensors-file';
import { hashFileInWorker, type FiniteCheckRange } from './sha256-worker';

export interface OpenWeightsOptions {
  /** Scan every float weight for NaN/Inf (default true). */
  readonly checkFinite?: boolean;
}

/** A weights file whose bytes are still being hashed and checked. */
export interface OpenedWeights {
  readonly weights: SafetensorsFile;
  /**
   * The weights' sha256, once hashed and (unless `checkFinite: false`) found finite; rejects with the
   * CheckpointError naming the first non-finite tensor (file order) otherwise. Always handled, so it
   * may be awaited late.
   */
  readonly weightsSha256: Promise<string>;
}

/** Validates the header now; hashes and scans the weights in the background. */
export async function openWeights(path: string, options: OpenWeightsOptions = {}): Promise<OpenedWeights> {
  const weights = await SafetensorsFile.open(path);
  const weightsSha256 = verifyWeights(weights, options.checkFinite ?? true);
  weightsSha256.catch(() => undefined); // the caller awaits it, possibly after other awaits
  return { weights, weightsSha256 };
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
