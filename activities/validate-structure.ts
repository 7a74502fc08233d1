/**
 * The validate stage: our structural checker (onnx/checker.ts) over the staged graph, read back
 * from the worker's artifact cache. Every problem is reported, and any one fails the export with
 * the report attached.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Client as MinioClient } from 'minio';
import type { ArtifactRef, ValidationReport } from '../common/export-contract';
import { FAILURE_TYPES } from '../common/failure-types';
import { checkModel } from '../onnx/checker';
import { readModel } from '../onnx/serialize-read';
import { localArtifact } from '../workspace/local-files';
import type { WorkDir } from '../workspace/work-cache';
import { toActivityFailure } from './failures';

export interface ValidateStructureDeps {
  minio: MinioClient;
  work: WorkDir;
}

export function createValidateStructureActivity(deps: ValidateStructureDeps) {
  return {
    /** Our structural checker over the staged file; every problem is reported, and any one fails the export. */
    async validateStructure(onnx: ArtifactRef): Promise<ValidationReport> {
      try {
        const model = await readModel(await localArtifact(deps.minio, deps.work, onnx));
        const check = checkModel(model);
        const report: ValidationReport = {
          ok: check.ok,
          nodes: model.graph.nodes.length,
          initializers: model.graph.initializers.length,
          opset: model.opset,
          problems: check.problems.map((p) => ({ ...p })),
        };
        if (!check.ok) {
          const first = check.problems.slice(0, 5).map((p) => p.message);
          throw ApplicationFailure.create({
            message: `${onnx.uri}: ${check.problems.length} structural problem(s): ${first.join('; ')}`,
            type: FAILURE_TYPES.invalidGraph,
            nonRetryable: true,
            details: [report],
          });
        }
        return report;
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}
