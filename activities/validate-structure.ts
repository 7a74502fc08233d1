/**
 * The validate stage: our structural checker (onnx/checker.ts) over the staged graph, read back
 * from the worker's artifact cache. Every problem is reported, and any one fails the export with
 * the report attached. The one kind of finding that is not a failure: an ai.onnx op the checker has
 * no schema for (a graph brought from another exporter may use one). Those are listed as "not
 * checked", and onnxruntime loading the graph is then their check: a graph it refuses fails the
 * export as InvalidGraph with onnxruntime's message.
 */
import type { Client as MinioClient } from 'minio';
import type { ArtifactRef, ValidationReport } from '../common/export-contract';
import { checkModel, type Problem } from '../onnx/checker';
import { GraphRefusedError } from '../onnx/graph-refused-error';
import { loadInOnnxruntime } from '../onnx/runtime-load';
import { readModel } from '../onnx/serialize-read';
import { localArtifact } from '../workspace/local-files';
import type { WorkDir } from '../workspace/work-cache';
import { toActivityFailure } from './failures';

export interface ValidateStructureDeps {
  minio: MinioClient;
  work: WorkDir;
}

/** The checker's findings, split: problems that fail the graph, and ops it could not check (by type, with counts). */
export function classifyProblems(problems: readonly Problem[]): {
  failures: ValidationReport['problems'];
  notChecked: NonNullable<ValidationReport['notChecked']>;
} {
  const failures: ValidationReport['problems'] = [];
  const counts = new Map<string, number>();
  for (const p of problems) {
    if (p.noSchema && p.opType !== undefined) counts.set(p.opType, (counts.get(p.opType) ?? 0) + 1);
    else failures.push({ kind: p.kind, message: p.message, ...pick(p) });
  }
  const notChecked = [...counts]
    .map(([opType, nodes]) => ({ opType, nodes }))
    .sort((a, b) => (a.opType < b.opType ? -1 : 1));
  return { failures, notChecked };
}

function pick(p: Problem): { node?: string; opType?: string; value?: string } {
  return {
    ...(p.node !== undefined ? { node: p.node } : {}),
    ...(p.opType !== undefined ? { opType: p.opType } : {}),
    ...(p.value !== undefined ? { value: p.value } : {}),
  };
}

export function createValidateStructureActivity(deps: ValidateStructureDeps) {
  return {
    /** Our structural checker over the staged file; every problem is reported, and any one fails the export. */
    async validateStructure(onnx: ArtifactRef): Promise<ValidationReport> {
      try {
        const path = await localArtifact(deps.minio, deps.work, onnx);
        const model = await readModel(path);
        const { failures, notChecked } = classifyProblems(checkModel(model).problems);
        const report: ValidationReport = {
          ok: failures.length === 0,
          nodes: model.graph.nodes.length,
          initializers: model.graph.initializers.length,
          opset: model.opset,
          problems: failures,
          notChecked,
        };
        if (!report.ok) {
          const first = failures.slice(0, 5).map((p) => p.message);
          throw new GraphRefusedError(
            `${onnx.uri}: ${failures.length} structural problem(s): ${first.join('; ')}`,
            report,
          );
        }
        if (notChecked.length > 0) {
          const loaded = await loadInOnnxruntime(path);
          if (!loaded.ok) {
            const ops = notChecked.map((o) => o.opType).join(', ');
            throw new GraphRefusedError(
              `${onnx.uri}: onnxruntime cannot load the graph (our checker has no schema for ${ops}): ${loaded.message.split(path).join(onnx.uri)}`,
              { ...report, ok: false },
            );
          }
        }
        return report;
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}
