/**
 * The int8 variant's quantize stage: the staged, validated fp32 graph (from the worker's artifact
 * cache) and the bundle's calibration inputs (calibration.safetensors when the bundle has one, else
 * its reference inputs) become an int8 QDQ graph (quantize/), staged in the object store under its
 * sha256 exactly as the emit stage stages fp32: `staging/<sha256>/model.onnx`, resumed from the
 * checkpoint in the last heartbeat, a no-op when the bytes are already there.
 *
 * With a gate (`accuracy`), it is accuracy-aware (quantize/accuracy-aware.ts): the int8 graph is
 * checked against the bundle's reference cases with the gate's tolerances, and while it misses, its
 * most sensitive nodes (diagnose/'s per-layer errors against the fp32 graph) are kept float and it is
 * written again, up to maxFloatFraction of them. Only the graph it keeps is staged; the report lists
 * every round. The search is deterministic, so a retry stages the same bytes; its heartbeat carries
 * the search's memo (quantize/search-memo.ts), so a retry after a lost worker skips the rounds and
 * rankings already done.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client as MinioClient } from 'minio';
import { BUNDLE_FILES } from '../checkpoint';
import { bundleFileUri, type ArtifactRef, type CalibrationMethodName } from '../common/export-contract';
import { compareGraphIntermediates } from '../diagnose/layer-errors';
import { gateEvaluation, runParity } from '../parity';
import { quantizeOnnxFile, type QuantizationReport } from '../quantize';
import { quantizeAccuracyAware, SEARCH_THREADS } from '../quantize/accuracy-aware';
import type { SearchMemo } from '../quantize/search-memo';
import type { ContentAddressedStore } from '../storage/object-store';
import type { UploadCheckpoint } from '../storage/upload-checkpoint';
import { adoptArtifact, fetchBundle, localArtifact } from '../workspace/local-files';
import type { WorkDir } from '../workspace/work-cache';
import { bundleCopy, toActivityFailure, type LocalCopy } from './failures';

export type { QuantizationReport };

export interface QuantizeGraphDeps {
  minio: MinioClient;
  store: ContentAddressedStore;
  work: WorkDir;
}

export interface QuantizeGraphInput {
  /** The staged fp32 graph (validated and parity-checked before this stage runs). */
  fp32: ArtifactRef;
  /** The bundle the fp32 graph was emitted from: its calibration (or reference) inputs calibrate. */
  checkpointUri: string;
  /** Calibration method; quantize/'s default when absent. */
  method?: CalibrationMethodName;
  /**
   * The int8 gate and the most nodes the search may keep float; absent (or maxFloatFraction 0): plain
   * int8, as before the search (histories from then have no such field).
   */
  accuracy?: { mae: number; maxAbs: number; maxFloatFraction: number };
}

export interface QuantizedGraph {
  /** The staged int8 graph. */
  onnx: ArtifactRef;
  /** quantize/'s report, with its worker-local paths replaced by the s3:// URIs they mirror. */
  report: QuantizationReport;
  upload: { method: 'existing' | 'put' | 'multipart'; bytesSent: number; bytesReused: number };
}

interface QuantizeHeartbeat {
  upload?: UploadCheckpoint;
  /** The accuracy-aware search's rounds so far, and its memo for a retry. */
  round?: number;
  search?: SearchMemo;
}

/** Heartbeats while quantize/ works (it reports no progress), so a lost worker is noticed within the heartbeat timeout. */
const QUANTIZE_HEARTBEAT_MS = 10_000;

export function createQuantizeGraphActivity(deps: QuantizeGraphDeps) {
  return {
    /** Quantizes the staged fp32 graph to int8 and stages the result under its sha256 (resuming an interrupted upload). */
    async quantizeGraph(input: QuantizeGraphInput): Promise<QuantizedGraph> {
      const ctx = Context.current();
      const previous = (ctx.info.heartbeatDetails ?? {}) as QuantizeHeartbeat;
      const scratch = join(deps.work.root, 'quantize', randomUUID());
      await mkdir(scratch, { recursive: true });
      let bundleDir: string | undefined;
      let fp32Path: string | undefined;
      // The latest details: the periodic beat must not send an older memo than the last round's.
      let details: QuantizeHeartbeat = previous;
      const heartbeat = (next: QuantizeHeartbeat) => {
        details = next;
        ctx.heartbeat(details);
      };
      const beat = setInterval(() => ctx.heartbeat(details), QUANTIZE_HEARTBEAT_MS);
      try {
        fp32Path = await localArtifact(deps.minio, deps.work, input.fp32);
        bundleDir = await fetchBundle(deps.minio, deps.work, input.checkpointUri, (file) =>
          ctx.heartbeat({ ...details, downloading: file }),
        );
        const calibrationFile = existsSync(join(bundleDir, BUNDLE_FILES.calibration))
          ? BUNDLE_FILES.calibration
          : BUNDLE_FILES.reference;
        const outputPath = join(scratch, 'model.onnx');
        const request = {
          modelPath: fp32Path,
          calibrationPath: join(bundleDir, calibrationFile),
          calibrationSource: calibrationFile,
          outputPath,
          ...(input.method !== undefined ? { method: input.method } : {}),
        };
        const { accuracy } = input;
        const referencePath = join(bundleDir, BUNDLE_FILES.reference);
        const report: QuantizationReport =
          accuracy !== undefined && accuracy.maxFloatFraction > 0
            ? await quantizeAccuracyAware({
                ...request,
                referencePath,
                gate: { mae: accuracy.mae, maxAbs: accuracy.maxAbs },
                maxFloatFraction: accuracy.maxFloatFraction,
                scratchDir: join(scratch, 'rounds'),
                checkGate: async (path) =>
                  gateEvaluation(
                    await runParity(path, referencePath, {
                      mae: accuracy.mae,
                      maxAbs: accuracy.maxAbs,
                      threads: SEARCH_THREADS,
                    }),
                  ),
                compare: compareGraphIntermediates,
                onRound: (round, search) => heartbeat({ ...details, round, search }),
                // What the memo is of: the same fp32 graph, calibration file, method and gate.
                resume: {
                  basis: JSON.stringify([input.fp32.sha256, calibrationFile, input.method ?? null, accuracy]),
                  ...(previous.search !== undefined ? { memo: previous.search } : {}),
                },
              })
            : await quantizeOnnxFile(request);
        clearInterval(beat);
        ctx.heartbeat(details);
        const staged = await deps.store.stageFile(outputPath, {
          sha256: report.output.sha256,
          resumeFrom: previous.upload,
          // The memo stays: a retry after an interrupted upload need not search again either.
          onProgress: (upload) => heartbeat({ ...details, upload }),
          signal: ctx.cancellationSignal,
        });
        await adoptArtifact(deps.work, outputPath, staged.sha256);
        const onnx: ArtifactRef = { uri: staged.uri, sha256: staged.sha256, bytes: staged.bytes };
        return {
          onnx,
          report: {
            ...report,
            calibration: { ...report.calibration, path: bundleFileUri(input.checkpointUri, calibrationFile) },
            output: { path: onnx.uri, bytes: onnx.bytes, sha256: onnx.sha256 },
          },
          upload: { method: staged.method, bytesSent: staged.bytesSent, bytesReused: staged.bytesReused },
        };
      } catch (err) {
        const copies: LocalCopy[] = [
          ...(fp32Path ? [{ local: fp32Path, uri: input.fp32.uri }] : []),
          ...bundleCopy(bundleDir, input.checkpointUri),
        ];
        throw toActivityFailure(err, copies);
      } finally {
        clearInterval(beat);
        await rm(scratch, { recursive: true, force: true });
      }
    },
  };
}
