/**
 * The parity stage: the staged graph run in onnxruntime on every case of the bundle's reference, fed
 * by the graph's own signature, compared with PyTorch's reference outputs (parity/). A miss raises
 * ParityFailedError, which failures.ts makes a final ParityFailed with the report attached.
 */
import { join } from 'node:path';
import type { Client as MinioClient } from 'minio';
import type { ArtifactRef } from '../common/export-contract';
import { ParityFailedError } from '../parity/parity-failed';
import { runParity, type ParityReport } from '../parity/run-parity';
import { BUNDLE_FILES } from '../checkpoint';
import { fetchBundle, localArtifact } from '../workspace/local-files';
import type { WorkDir } from '../workspace/work-cache';
import { bundleCopy, toActivityFailure } from './failures';

export interface CheckParityDeps {
  minio: MinioClient;
  work: WorkDir;
}

export interface ParityStageInput {
  onnx: ArtifactRef;
  checkpointUri: string;
  mae?: number;
  maxAbs?: number;
}

export function createCheckParityActivity(deps: CheckParityDeps) {
  return {
    /** Runs the staged model on the bundle's reference inputs and compares with PyTorch's outputs. */
    async checkParity(input: ParityStageInput): Promise<ParityReport> {
      let path: string | undefined;
      let bundleDir: string | undefined;
      try {
        path = await localArtifact(deps.minio, deps.work, input.onnx);
        bundleDir = await fetchBundle(deps.minio, deps.work, input.checkpointUri);
        const report = await runParity(path, join(bundleDir, BUNDLE_FILES.reference), {
          ...(input.mae !== undefined ? { mae: input.mae } : {}),
          ...(input.maxAbs !== undefined ? { maxAbs: input.maxAbs } : {}),
        });
        if (!report.passed) throw new ParityFailedError(input.onnx.uri, report);
        return report;
      } catch (err) {
        const artifactCopy = path ? [{ local: path, uri: input.onnx.uri }] : [];
        throw toActivityFailure(err, [...artifactCopy, ...bundleCopy(bundleDir, input.checkpointUri)]);
      }
    },
  };
}
