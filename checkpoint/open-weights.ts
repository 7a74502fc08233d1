/**
 * Opens a bundle's weights file (model.safetensors, or a torch.save checkpoint `*.pth`/`*.pt`/`*.ckpt`):
 * its header (or its archive directory and data.pkl) now, then the file's sha256 and a NaN/Inf check
 * of every float weight. The hash and (for F32/F64) a fast finite test share one pass, on a worker
 * thread (on this one, at once, for a small file: sha256-worker.ts); any weight that fails it, shares bytes with one already tested, or has another float dtype
 * gets the exact scan here (in file order, so the error names the first offending tensor and element).
 * A checkpoint's optimizer state is hashed with the file but never checked: only weights are.
 * `openWeights` hands out the file before that pass ends, so a caller (emission) can work meanwhile
 * and await the verdict before committing. It must not interpret the weights (that is models/'
 * architectures), read config.json (bundle-config.ts) nor fetch from the object store (callers stage
 * the bundle locally).
 */
import { basename } from 'node:path';
import { isTorchCheckpoint } from './bundle-layout';
import { SAFETENSORS_DTYPES } from './safetensors-dtypes';
import { SafetensorsFile } from './safetensors-file';
import { hashWeightsFile, type FiniteCheckRange } from './sha256-worker';
import { TorchCheckpointFile, type CheckpointSettings } from './torch-checkpoint';
import type { TensorRangeFile, WeightsFile } from './weights-file';

export interface OpenWeightsOptions {
  /** Scan every float weight for NaN/Inf (default true). */
  readonly checkFinite?: boolean;
}

/** A weights file whose bytes are still being hashed and checked. */
export interface OpenedWeights {
  readonly weights: WeightsFile;
  /** A torch checkpoint's training settings (`config` or `hyper_parameters`), when it has them. */
  readonly settings: CheckpointSettings | undefined;
  /**
   * The weights file's sha256, once hashed and (unless `checkFinite: false`) found finite; rejects
   * with the CheckpointError naming the first non-finite tensor (file order) otherwise. Always
   * handled, so it may be awaited late.
   */
  readonly weightsSha256: Promise<string>;
}

/** Validates the header (a checkpoint's directory and pickle) now; hashes and scans the weights in the background. */
export async function openWeights(path: string, options: OpenWeightsOptions = {}): Promise<OpenedWeights> {
  const { weights, settings } = await openWeightsFile(path);
  return { weights, settings, weightsSha256: verifyWeights(weights, options) };
}

/** The weights file by its name (a torch checkpoint, else safetensors), validated; nothing is hashed yet. */
export async function openWeightsFile(
  path: string,
): Promise<{ readonly weights: TensorRangeFile; readonly settings: CheckpointSettings | undefined }> {
  if (!isTorchCheckpoint(basename(path))) return { weights: await SafetensorsFile.open(path), settings: undefined };
  const checkpoint = await TorchCheckpointFile.open(path);
  return { weights: checkpoint, settings: checkpoint.settings };
}

/** Starts the hash and NaN/Inf pass over a file from openWeightsFile (the promise is always handled). */
export function verifyWeights(weights: TensorRangeFile, options: OpenWeightsOptions = {}): Promise<string> {
  const sha256 = hashAndCheck(weights, options.checkFinite ?? true);
  sha256.catch(() => undefined); // the caller awaits it, possibly after other awaits
  return sha256;
}

async function hashAndCheck(weights: TensorRangeFile, checkFinite: boolean): Promise<string> {
  const fast: FiniteCheckRange[] = [];
  const fastNames: string[] = [];
  const exact = new Set<string>();
  if (checkFinite) {
    // The worker wants sorted ranges that do not overlap; a checkpoint's views may share a storage.
    let end = 0;
    for (const t of [...weights.tensors].sort((a, b) => a.offset - b.offset)) {
      if (!SAFETENSORS_DTYPES[t.dtype].float || t.length === 0) continue;
      if ((t.dtype === 'F32' || t.dtype === 'F64') && t.offset >= end) {
        fast.push({ offset: t.offset, length: t.length, width: t.dtype === 'F32' ? 4 : 8 });
        fastNames.push(t.name);
        end = t.offset + t.length;
      } else {
        exact.add(t.name);
      }
    }
  }
  const { sha256, nonFinite } = await hashWeightsFile(weights.path, fast, weights.size);
  for (const i of nonFinite) exact.add(fastNames[i] as string);
  // Throws the CheckpointError for the first non-finite tensor in file order, as a full scan would.
  if (exact.size > 0) await weights.scan({ finite: true, only: exact });
  return sha256;
}
