/**
 * Upload activities: stage a local ONNX file in the content-addressed store, and publish a staged
 * artifact as an MLflow model directory under models/. Thin: resolve inputs, adapt the uploader's
 * checkpoint to heartbeat details (and back on a retry), map errors to failures (bad input and
 * content mismatches are non-retryable). The work lives in storage/ and registry/.
 */
import type { LatencyReport } from '../bench/report-types';
import { renderLatencySvg } from '../bench/latency-figure';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { ArtifactRef } from '../common/export-contract';
import { RegistryInputError, RegistrationError } from '../registry/registry-error';
import { publishModelDirectory, type PublishedModel } from '../registry/model-directory';
import { parseS3Uri } from '../storage/object-keys';
import type { ContentAddressedStore, UploadOutcome } from '../storage/object-store';
import { ContentMismatchError, StorageError, StorageInputError, UploadAbortedError } from '../storage/storage-error';
import type { UploadCheckpoint } from '../storage/upload-checkpoint';

export interface UploadActivityDeps {
  store: ContentAddressedStore;
}

export interface StageArtifactInput {
  /** A file on this worker (the emitter's output). */
  localPath: string;
  /** Its sha256 when known; verified while uploading. */
  sha256?: string;
}

export type StageArtifactResult = ArtifactRef & Pick<UploadOutcome, 'method' | 'bytesSent' | 'bytesReused' | 'parts'>;

export interface PublishModelInput {
  /** The staged artifact (`s3://<models bucket>/staging/<sha256>/model.onnx`). */
  artifact: ArtifactRef;
  modelName: string;
  runId?: string;
  workflowId?: string;
  opset?: number;
  checkpointSha256?: string;
  parityReport?: unknown;
  latencyReports?: unknown;
  latencySvg?: string;
  metadata?: Record<string, string>;
}

/** Heartbeat details of stageArtifact: the uploader's checkpoint plus progress for the workflow's query. */
export interface StageHeartbeat {
  checkpoint: UploadCheckpoint;
  bytesUploaded: number;
  bytesTotal: number;
}

/** Maps storage/registry errors to Temporal failures; 4xx, bad input and mismatches never retry. */
export function toActivityFailure(err: unknown): Error {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const ctx = Context.current();
  if (err instanceof UploadAbortedError && ctx.cancellationSignal.aborted) return new CancelledFailure(err.message);
  const fail = (type: string, nonRetryable: boolean, details?: unknown) =>
    ApplicationFailure.create({ message: (err as Error).message, type, nonRetryable, cause: err as Error, ...(details ? { details: [details] } : {}) });
  if (err instanceof StorageInputError || err instanceof RegistryInputError) return fail('InvalidInput', true, { field: err.field, expected: err.expected });
  if (err instanceof ContentMismatchError) return fail('ContentMismatch', true, err.context);
  if (err instanceof StorageError) return fail('StorageError', !err.retryable, err.context);
  if (err instanceof RegistrationError) return fail('RegistrationError', !err.retryable, err.context);
  if (err instanceof UploadAbortedError) return fail('UploadInterrupted', false);
  return err instanceof Error ? err : new Error(String(err));
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

export function createUploadActivities(deps: UploadActivityDeps) {
  return {
    /**
     * Uploads a local file to `staging/<sha256>/model.onnx` unless it is there already. Resumes a
     * multipart upload from the last heartbeat's checkpoint.
     */
    async stageArtifact(input: StageArtifactInput): Promise<StageArtifactResult> {
      const ctx = Context.current();
      const previous = ctx.info.heartbeatDetails as Partial<StageHeartbeat> | undefined;
      try {
        const out = await deps.store.stageFile(input.localPath, {
          ...(input.sha256 !== undefined ? { sha256: input.sha256 } : {}),
          resumeFrom: previous?.checkpoint,
          signal: ctx.cancellationSignal,
          onProgress: (checkpoint) => {
            const bytesUploaded = checkpoint.parts.reduce((n, p) => n + p.size, 0);
            ctx.heartbeat({ checkpoint, bytesUploaded, bytesTotal: checkpoint.size } satisfies StageHeartbeat);
          },
        });
        return { uri: out.uri, sha256: out.sha256, bytes: out.bytes, method: out.method, bytesSent: out.bytesSent, bytesReused: out.bytesReused, parts: out.parts };
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** Server-side copies the staged ONNX to `models/<modelName>/<sha256>/` and writes the MLflow model directory. */
    async publishModel(input: PublishModelInput): Promise<PublishedModel> {
      try {
        const { bucket, key } = parseS3Uri(input.artifact.uri, 'artifact.uri');
        if (bucket !== deps.store.bucket) {
          throw new StorageInputError('artifact.uri', input.artifact.uri, `an object in the models bucket '${deps.store.bucket}'`);
        }
        Context.current().heartbeat();
        const { artifact, ...rest } = input;
        const latencySvg = rest.latencySvg ?? (await latencyFigureFor(rest.latencyReports, `${rest.modelName} @ ${artifact.sha256.slice(0, 12)}`));
        return await publishModelDirectory(
          deps.store,
          { ...rest, ...(latencySvg !== undefined ? { latencySvg } : {}), sha256: artifact.sha256, bytes: artifact.bytes },
          { stagedKey: key },
        );
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}

export type UploadActivities = ReturnType<typeof createUploadActivities>;
