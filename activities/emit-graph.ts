/**
 * The emit stage: the checkpoint bundle (fetched into the worker's cache) becomes an ONNX graph,
 * staged in the object store under its sha256: emitted from its weights by the architecture its
 * config names, or, for a bundle with its own model.onnx, the given graph staged as it is. An
 * interrupted staging upload resumes from the checkpoint in the last heartbeat. The work is
 * models/emitBundle and storage/.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client as MinioClient } from 'minio';
import type { EmittedGraph } from '../common/export-contract';
import { emitBundle } from '../models/emit';
import type { ContentAddressedStore } from '../storage/object-store';
import type { UploadCheckpoint } from '../storage/upload-checkpoint';
import { adoptArtifact, fetchBundle } from '../workspace/local-files';
import type { WorkDir } from '../workspace/work-cache';
import { bundleCopy, toActivityFailure } from './failures';

export interface EmitGraphDeps {
  minio: MinioClient;
  store: ContentAddressedStore;
  work: WorkDir;
}

export interface EmitGraphInput {
  checkpointUri: string;
  opset?: number;
  runId?: string;
}

/** Heartbeat details of emitGraph: the staging upload's checkpoint, so a retry resumes it. */
interface EmitHeartbeat {
  upload?: UploadCheckpoint;
}

export function createEmitGraphActivity(deps: EmitGraphDeps) {
  return {
    /** Emits the bundle's graph (or takes its own) and stages it under its sha256 (resuming an interrupted upload). */
    async emitGraph(input: EmitGraphInput): Promise<EmittedGraph> {
      const ctx = Context.current();
      const previous = (ctx.info.heartbeatDetails ?? {}) as EmitHeartbeat;
      const scratch = join(deps.work.root, 'emit', randomUUID());
      await mkdir(scratch, { recursive: true });
      let bundleDir: string | undefined;
      try {
        bundleDir = await fetchBundle(deps.minio, deps.work, input.checkpointUri, (file) =>
          ctx.heartbeat({ ...previous, downloading: file }),
        );
        const emitted = await emitBundle(bundleDir, join(scratch, 'model.onnx'), {
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
          source: emitted.source,
          producer: { ...emitted.producer },
          ...(emitted.architecture !== undefined ? { architecture: emitted.architecture } : {}),
          settings: { ...emitted.settings },
          checkpointSha256: emitted.checkpointSha256,
          opset: emitted.opset,
          nodes: emitted.nodes,
          signature: emitted.signature,
          emitSeconds: emitted.seconds,
          upload: { method: staged.method, bytesSent: staged.bytesSent, bytesReused: staged.bytesReused },
        };
      } catch (err) {
        throw toActivityFailure(err, bundleCopy(bundleDir, input.checkpointUri));
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  };
}
