/**
 * The parity stage: the staged graph run in onnxruntime on every case of the bundle's reference, fed
 * by the graph's own signature, compared with PyTorch's reference outputs (parity/). A miss is
 * diagnosed first (parity-diagnosis.ts: where the graph parts from the input's baseline graph, else
 * from PyTorch's intermediates in the reference, else, for a brought graph whose bundle carries its
 * checkpoint, from our own graph emitted from that checkpoint into the worker's scratch; the report
 * stored beside the staged graph), then raises ParityFailedError, which failures.ts makes a final
 * ParityFailed with the report and the diagnosis attached and the finding at the end of its message.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client as MinioClient } from 'minio';
import { bundleFileUri, bundleReferenceUri, DEFAULT_TOLERANCES, type ArtifactRef } from '../common/export-contract';
import { ParityFailedError } from '../parity/parity-failed';
import { runParity, type ParityReport } from '../parity/run-parity';
import { BUNDLE_FILES, bundleLayout } from '../checkpoint';
import { emitFromWeights } from '../models/emit';
import { stagingReportKey } from '../storage/object-keys';
import type { ContentAddressedStore } from '../storage/object-store';
import { fetchBundle, localArtifact } from '../workspace/local-files';
import type { WorkDir } from '../workspace/work-cache';
import { bundleCopy, toActivityFailure } from './failures';
import { DIAGNOSIS_TIME_LIMIT_MS, diagnoseParityFailure, type BaselineGraph } from './parity-diagnosis';

export interface CheckParityDeps {
  minio: MinioClient;
  store: ContentAddressedStore;
  work: WorkDir;
}

export interface ParityStageInput {
  onnx: ArtifactRef;
  checkpointUri: string;
  mae?: number;
  maxAbs?: number;
  /**
   * The graph a miss is diagnosed against (the int8 graph's fp32 graph). Without one, the reference's
   * intermediates are, when it holds any. Optional: histories from before it replay unchanged.
   */
  diagnosisBaseline?: ArtifactRef;
}

/** Some time of the stage's own timeout is kept for reporting the failure after a diagnosis. */
const REPORTING_MARGIN_MS = 60_000;

/** The diagnosis's time limit: DIAGNOSIS_TIME_LIMIT_MS, or less when the attempt's own timeout is nearer. */
function diagnosisTimeLimit(): number {
  const { currentAttemptScheduledTimestampMs: scheduled, startToCloseTimeoutMs: timeout } = Context.current().info;
  return Math.min(DIAGNOSIS_TIME_LIMIT_MS, scheduled + timeout - Date.now() - REPORTING_MARGIN_MS);
}

/**
 * Our own graph of a brought graph's bundle, emitted on demand from the checkpoint it carries (the
 * emit stage's path for weights bundles) into `scratch`; undefined when the bundle is not a graph
 * bundle carrying one. The baseline's URI is the checkpoint's.
 */
async function emittedBaseline(
  bundleDir: string,
  checkpointUri: string,
  scratch: string,
): Promise<BaselineGraph | undefined> {
  const verdict = bundleLayout(await readdir(bundleDir));
  if (!('layout' in verdict) || verdict.layout.kind !== 'graph') return undefined;
  const { checkpoint } = verdict.layout;
  if (checkpoint === undefined) return undefined;
  return {
    uri: bundleFileUri(checkpointUri, checkpoint),
    label: 'our own emitted graph of',
    sources: [{ path: `${bundleDir}/`, uri: bundleFileUri(checkpointUri, '') }],
    path: async () => {
      await mkdir(scratch, { recursive: true });
      try {
        return (await emitFromWeights(bundleDir, join(scratch, 'model.onnx'))).path;
      } catch (err) {
        throw new Error(`our graph could not be emitted: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
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
        if (!report.passed) {
          const candidate = path;
          const { diagnosisBaseline: baseline } = input;
          const ctx = Context.current();
          const scratch = join(deps.work.root, 'emit', randomUUID());
          const emitted = baseline ? undefined : await emittedBaseline(bundleDir, input.checkpointUri, scratch);
          const diagnosis = await diagnoseParityFailure({
            candidate: { path: candidate, uri: input.onnx.uri },
            ...(emitted ? { emittedGraph: emitted } : {}),
            ...(baseline
              ? {
                  baselineGraph: {
                    uri: baseline.uri,
                    label: 'the fp32 graph',
                    path: () => localArtifact(deps.minio, deps.work, baseline),
                  },
                }
              : {}),
            reference: {
              path: join(bundleDir, BUNDLE_FILES.reference),
              uri: bundleReferenceUri(input.checkpointUri),
            },
            unusedReferenceKeys: report.unusedTensors ?? [],
            tolerances: {
              mae: input.mae ?? DEFAULT_TOLERANCES.mae,
              maxAbs: input.maxAbs ?? DEFAULT_TOLERANCES.maxAbs,
            },
            timeLimitMs: diagnosisTimeLimit(),
            heartbeat: (details) => ctx.heartbeat(details),
            // Beside the staged graph: a failed graph publishes nothing, and its hash names its diagnosis.
            save: async (name, body, contentType) => {
              const key = stagingReportKey(input.onnx.sha256, name);
              await deps.store.putBytes(key, body, contentType);
              return deps.store.uri(key);
            },
          }).finally(() => rm(scratch, { recursive: true, force: true }).catch(() => undefined));
          throw new ParityFailedError(input.onnx.uri, report, diagnosis);
        }
        return report;
      } catch (err) {
        const artifactCopy = path ? [{ local: path, uri: input.onnx.uri }] : [];
        throw toActivityFailure(err, [...artifactCopy, ...bundleCopy(bundleDir, input.checkpointUri)]);
      }
    },
  };
}
