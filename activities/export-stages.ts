/**
 * The export's first three stages as activities: emit (checkpoint → ONNX, staged in the object
 * store), validate (our structural checker) and parity (onnxruntime vs PyTorch's reference outputs).
 * Thin by design: resolve refs to local files, heartbeat, call the libraries, and turn their errors
 * into failures — bad input, an invalid graph and a parity miss are non-retryable, with the report
 * attached; anything else is retried by the workflow's policy.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Client as MinioClient } from 'minio';
import { CheckpointError } from '../checkpoint';
import type { ArtifactRef } from '../common/export-contract';
import { emitLocalizationNet, ModelError } from '../models';
import { checkModel } from '../onnx/checker';
import { ModelReadError, readModel } from '../onnx/serialize';
import { ParityError, runParity, type ParityReport } from '../parity';
import { StorageInputError, type ContentAddressedStore, type UploadCheckpoint } from '../storage';
import { adoptArtifact, fetchBundle, localArtifact, MissingInputError } from './local-files';
import type { WorkDir } from './work-cache';

/** Failure types the workflow treats as final (also listed in its retry policies). */
export const NON_RETRYABLE = {
  invalidInput: 'InvalidInput',
  invalidGraph: 'InvalidGraph',
  parityFailed: 'ParityFailed',
} as const;

export interface ExportStageDeps {
  minio: MinioClient;
  store: ContentAddressedStore;
  work: WorkDir;
}

export interface EmitGraphInput {
  checkpointUri: string;
  opset?: number;
  runId?: string;
}

export interface EmittedGraph {
  onnx: ArtifactRef;
  checkpointSha256: string;
  opset: number;
  backbone: string;
  depths: number[];
  dims: number[];
  nodes: number;
  emitSeconds: number;
  /** How the staging upload went: `existing` when an earlier attempt had already stored it. */
  upload: { method: 'existing' | 'put' | 'multipart'; bytesSent: number; bytesReused: number };
}

export interface ValidationReport {
  ok: boolean;
  nodes: number;
  initializers: number;
  opset: number;
  problems: { kind: string; message: string; node?: string; opType?: string; value?: string }[];
}

export interface ParityStageInput {
  onnx: ArtifactRef;
  checkpointUri: string;
  mae?: number;
  maxAbs?: number;
}

/** Heartbeat details of emitGraph: the staging upload's checkpoint, so a retry resumes it. */
interface EmitHeartbeat {
  upload?: UploadCheckpoint;
}

/** A worker-local copy and the object it came from, so messages name what the caller knows. */
export interface LocalCopy {
  local: string;
  uri: string;
}

/**
 * Maps the libraries' input errors to non-retryable failures that keep the message whole, with
 * worker-local paths (the bundle cache, the artifact cache) replaced by the s3:// URIs they mirror.
 */
export function asInputFailure(err: unknown, copies: readonly LocalCopy[] = []): unknown {
  if (err instanceof CheckpointError || err instanceof ModelError || err instanceof MissingInputError || err instanceof StorageInputError || err instanceof ParityError) {
    const mirror = (text: string) => copies.reduce((m, c) => m.split(c.local).join(c.uri), text);
    const message = mirror(err.message);
    // The cause travels into history too: same class name and stack frames, paths mirrored as well.
    const cause = Object.assign(new Error(message), { name: err.name });
    cause.stack = mirror(err.stack ?? `${err.name}: ${err.message}`);
    return ApplicationFailure.create({ message, type: NON_RETRYABLE.invalidInput, nonRetryable: true, cause });
  }
  return err;
}

/** The local bundle folder as its checkpoint URI (`dir/model.safetensors` → `s3://…/model.safetensors`). */
function bundleCopy(dir: string | undefined, checkpointUri: string): LocalCopy[] {
  return dir ? [{ local: `${dir}/`, uri: checkpointUri.endsWith('/') ? checkpointUri : `${checkpointUri}/` }] : [];
}

export function createExportStageActivities(deps: ExportStageDeps) {
  return {
    /** Emits the ONNX graph from the bundle and stages it under its sha256 (resuming an interrupted upload). */
    async emitGraph(input: EmitGraphInput): Promise<EmittedGraph> {
      const ctx = Context.current();
      const previous = (ctx.info.heartbeatDetails ?? {}) as EmitHeartbeat;
      const scratch = join(deps.work.root, 'emit', randomUUID());
      await mkdir(scratch, { recursive: true });
      let bundleDir: string | undefined;
      try {
        bundleDir = await fetchBundle(deps.minio, deps.work, input.checkpointUri, (file) => ctx.heartbeat({ ...previous, downloading: file }));
        const emitted = await emitLocalizationNet(bundleDir, join(scratch, 'model.onnx'), {
          ...(input.opset !== undefined ? { opset: input.opset } : {}),
          ...(input.runId !== undefined ? { runId: input.runId } : {}),
        });
        ctx.heartbeat(previous);
        const staged = await deps.store.stageFile(emitted.path, {
          sha256: emitted.sha256,
          resumeFrom: previous.upload,
          onProgress: (upload) => ctx.heartbeat({ upload } satisfies EmitHeartbeat),
          signal: ctx.cancellationSignal,
        });
        await adoptArtifact(deps.work, emitted.path, emitted.sha256);
        return {
          onnx: { uri: staged.uri, sha256: staged.sha256, bytes: staged.bytes },
          checkpointSha256: emitted.checkpointSha256,
          opset: emitted.opset,
          backbone: emitted.backbone,
          depths: [...emitted.depths],
          dims: [...emitted.dims],
          nodes: emitted.nodes,
          emitSeconds: emitted.seconds,
          upload: { method: staged.method, bytesSent: staged.bytesSent, bytesReused: staged.bytesReused },
        };
      } catch (err) {
        throw asInputFailure(err, bundleCopy(bundleDir, input.checkpointUri));
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },

    /** Our structural checker over the staged file; every problem is reported, and any one fails the export. */
    async validateStructure(onnx: ArtifactRef): Promise<ValidationReport> {
      const path = await localArtifact(deps.minio, deps.work, onnx).catch((err: unknown) => { throw asInputFailure(err); });
      const model = await readModel(path).catch((err: unknown) => {
        if (err instanceof ModelReadError) throw ApplicationFailure.create({ message: err.message, type: NON_RETRYABLE.invalidGraph, nonRetryable: true });
        throw err;
      });
      const check = checkModel(model);
      const report: ValidationReport = {
        ok: check.ok,
        nodes: model.graph.nodes.length,
        initializers: model.graph.initializers.length,
        opset: model.opset,
        problems: check.problems.map((p) => ({ ...p })),
      };
      if (!check.ok) {
        throw ApplicationFailure.create({
          message: `${onnx.uri}: ${check.problems.length} structural problem(s): ${check.problems.slice(0, 5).map((p) => p.message).join('; ')}`,
          type: NON_RETRYABLE.invalidGraph,
          nonRetryable: true,
          details: [report],
        });
      }
      return report;
    },

    /** Runs the staged model on the bundle's reference inputs and compares with PyTorch's outputs. */
    async checkParity(input: ParityStageInput): Promise<ParityReport> {
      let path: string | undefined;
      let bundleDir: string | undefined;
      try {
        path = await localArtifact(deps.minio, deps.work, input.onnx);
        bundleDir = await fetchBundle(deps.minio, deps.work, input.checkpointUri);
        const report = await runParity(path, join(bundleDir, 'reference.safetensors'), {
          ...(input.mae !== undefined ? { mae: input.mae } : {}),
          ...(input.maxAbs !== undefined ? { maxAbs: input.maxAbs } : {}),
        });
        if (!report.passed) {
          throw ApplicationFailure.create({
            message: `parity failed for ${input.onnx.uri}: ${report.failures.join('; ')}`,
            type: NON_RETRYABLE.parityFailed,
            nonRetryable: true,
            details: [report],
          });
        }
        return report;
      } catch (err) {
        throw asInputFailure(err, [...(path ? [{ local: path, uri: input.onnx.uri }] : []), ...bundleCopy(bundleDir, input.checkpointUri)]);
      }
    },
  };
}

export type ExportStageActivities = ReturnType<typeof createExportStageActivities>;
