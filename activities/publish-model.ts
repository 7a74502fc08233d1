/**
 * The publish stage: the staged ONNX is copied server-side to `models/<modelName>/<sha256>/` and the
 * MLflow model directory is written beside it (registry/model-directory.ts), with the signature the
 * emitter reported and the latency figure drawn here from the benchmark stage's reports. Thin:
 * resolve inputs, call registry/, map errors (failures.ts). An export emitted before the emit stage
 * reported signatures has none in its history: its signature is read from the staged graph itself.
 */
import { Context } from '@temporalio/activity';
import type { Client as MinioClient } from 'minio';
import { renderLatencySvg } from '../bench/latency-figure';
import type { LatencyReport } from '../bench/report-types';
import type { ArtifactRef, ModelSignature } from '../common/export-contract';
import { graphSignature } from '../onnx/graph-signature';
import { readModel } from '../onnx/serialize-read';
import type { GraphProvenance } from '../registry/graph-provenance';
import { publishModelDirectory, type PublishedModel } from '../registry/model-directory';
import { parseS3Uri } from '../storage/object-keys';
import type { ContentAddressedStore } from '../storage/object-store';
import { StorageInputError } from '../storage/storage-error';
import { localArtifact } from '../workspace/local-files';
import type { WorkDir } from '../workspace/work-cache';
import { toActivityFailure } from './failures';

export interface PublishModelDeps {
  store: ContentAddressedStore;
  /** Where a graph whose signature the workflow does not carry is read from. */
  minio: MinioClient;
  work: WorkDir;
}

export interface PublishModelInput {
  /** The staged artifact (`s3://<models bucket>/staging/<sha256>/model.onnx`). */
  artifact: ArtifactRef;
  modelName: string;
  /** The emitted graph's inputs and outputs, recorded as the MLmodel signature; read from the graph when absent. */
  signature?: ModelSignature;
  runId?: string;
  workflowId?: string;
  opset?: number;
  checkpointSha256?: string;
  parityReport?: unknown;
  latencyReports?: unknown;
  /** The int8 variant's quantization report, stored as quantization-report.json. */
  quantizationReport?: unknown;
  latencySvg?: string;
  metadata?: Record<string, string>;
  /** Where the graph came from (emitted or brought, its producer): MLmodel metadata. */
  provenance?: GraphProvenance;
}

/**
 * The latency figure that travels with the published model, drawn here on the worker from the
 * benchmark stage's reports ({cpu, gpu}), so the SVG itself never passes through workflow history.
 */
async function latencyFigureFor(latency: unknown, title: string): Promise<string | undefined> {
  const stage = latency as { cpu?: LatencyReport; gpu?: { status: string; report?: LatencyReport } } | undefined;
  if (!stage?.cpu) return undefined;
  const reports = [stage.cpu, ...(stage.gpu?.status === 'completed' && stage.gpu.report ? [stage.gpu.report] : [])];
  return renderLatencySvg({ reports, title });
}

export function createPublishModelActivity(deps: PublishModelDeps) {
  return {
    /** Server-side copies the staged ONNX to `models/<modelName>/<sha256>/` and writes the MLflow model directory. */
    async publishModel(input: PublishModelInput): Promise<PublishedModel> {
      try {
        const { bucket, key } = parseS3Uri(input.artifact.uri, 'artifact.uri');
        if (bucket !== deps.store.bucket) {
          throw new StorageInputError(
            'artifact.uri',
            input.artifact.uri,
            `an object in the models bucket '${deps.store.bucket}'`,
          );
        }
        Context.current().heartbeat();
        const { artifact, ...rest } = input;
        const title = `${rest.modelName} @ ${artifact.sha256.slice(0, 12)}`;
        const latencySvg = rest.latencySvg ?? (await latencyFigureFor(rest.latencyReports, title));
        const signature =
          rest.signature ?? graphSignature(await readModel(await localArtifact(deps.minio, deps.work, artifact)));
        return await publishModelDirectory(
          deps.store,
          {
            ...rest,
            signature,
            ...(latencySvg !== undefined ? { latencySvg } : {}),
            sha256: artifact.sha256,
            bytes: artifact.bytes,
          },
          { stagedKey: key },
        );
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}
