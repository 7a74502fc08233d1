/**
 * Uploads a local checkpoint bundle to the checkpoints bucket under a content-addressed prefix
 * (`bundles/<sha256 of its files' hashes>/`), so the same bundle always gets the same URI and
 * the same export workflow id, and re-running `onnx-export run` sends nothing twice. Which files a
 * bundle has is checkpoint/bundle-layout's decision, as for the worker that fetches it: a weights
 * bundle's config.json, model.safetensors (or its torch checkpoint, config.json then optional) and
 * reference.safetensors, or a graph bundle's model.onnx and reference.safetensors, each with
 * calibration.safetensors when the folder has it (a bundle without it keeps the id it always had).
 * A graph's external data files go with it, each checked
 * first: there, inside the folder (symlinks followed), long enough for its tensors.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLE_FILES, BundleLayoutError, bundleLayout } from '../checkpoint';
import type { PipelineConfig } from '../config/environment';
import { sha256File } from '../hashing/file-sha256';
import { readBroughtGraph } from '../models/brought-graph';
import { externalDataFiles, externalDataRefusals } from '../onnx/external-data';
import { ContentAddressedStore, createMinioClient, minioS3Operations } from '../storage';

export interface UploadedBundle {
  uri: string;
  /** The bundle's content id: sha256 over its files' sha256s. */
  id: string;
  bytesSent: number;
}

/** The external data files of a graph bundle's model.onnx, once each is found where it belongs. */
async function graphExternalData(dir: string): Promise<string[]> {
  const path = join(dir, BUNDLE_FILES.graph);
  const model = await readBroughtGraph(path);
  const [refused] = await externalDataRefusals(model, path, dir);
  if (refused) throw new BundleLayoutError(path, `tensor '${refused.tensor}': ${refused.problem}`);
  return externalDataFiles(model, path).map((f) => f.location);
}

/** The files to upload from `dir`, by the bundle layout; a folder that is no bundle is refused naming the file. */
export async function bundleFiles(dir: string): Promise<string[]> {
  const verdict = bundleLayout(await readdir(dir));
  if ('refusal' in verdict) throw new BundleLayoutError(join(dir, verdict.refusal.file), verdict.refusal.problem);
  const { files, kind } = verdict.layout;
  return kind === 'graph' ? [...files, ...(await graphExternalData(dir))] : [...files];
}

export async function uploadBundle(config: PipelineConfig, dir: string): Promise<UploadedBundle> {
  const files = await bundleFiles(dir);
  const hashes = await Promise.all(files.map(async (f) => ({ file: f, ...(await sha256File(join(dir, f))) })));
  const id = createHash('sha256')
    .update(hashes.map((h) => `${h.file}:${h.sha256}`).join('\n'))
    .digest('hex');
  const store = new ContentAddressedStore(minioS3Operations(createMinioClient(config.s3)), {
    bucket: config.s3.checkpointsBucket,
  });
  let bytesSent = 0;
  for (const h of hashes) {
    const out = await store.uploadFile(join(dir, h.file), `bundles/${id}/${h.file}`, { sha256: h.sha256 });
    bytesSent += out.bytesSent;
  }
  return { uri: `s3://${config.s3.checkpointsBucket}/bundles/${id}/`, id, bytesSent };
}
