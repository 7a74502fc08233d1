/**
 * Uploads a local checkpoint bundle to the checkpoints bucket under a content-addressed prefix
 * (`bundles/<sha256 of its files' hashes>/`), so the same bundle always gets the same URI and
 * the same export workflow id, and re-running `onnx-export run` sends nothing twice. The optional
 * calibration.safetensors (the int8 variant's calibration inputs) is uploaded and counted in the id
 * when the folder has it; a bundle without it keeps the id it always had.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelineConfig } from '../config/environment';
import { BUNDLE_FILES, OPTIONAL_BUNDLE_FILES } from '../workspace/local-files';
import { sha256File } from '../hashing/file-sha256';
import { ContentAddressedStore, createMinioClient, minioS3Operations } from '../storage';

export interface UploadedBundle {
  uri: string;
  /** The bundle's content id: sha256 over its files' sha256s. */
  id: string;
  bytesSent: number;
}

export async function uploadBundle(config: PipelineConfig, dir: string): Promise<UploadedBundle> {
  const missing = BUNDLE_FILES.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0)
    throw new Error(
      `${dir}: not a checkpoint bundle, missing ${missing.join(', ')} (expected ${BUNDLE_FILES.join(', ')})`,
    );
  const files = [...BUNDLE_FILES, ...OPTIONAL_BUNDLE_FILES.filter((f) => existsSync(join(dir, f)))];
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
