/**
 * Reading an export from the outside, for `status`, `watch`, `result` and `list`: its progress
 * (the workflow's query), the upload's live byte count (the running activity's heartbeat), and
 * the one-screen summaries the CLI prints. Never writes anything.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import {
  EXPORT_STAGES,
  INT8_STAGES,
  PROGRESS_QUERY,
  type AnyStageName,
  type ExportProgress,
  type Int8StageName,
  type StageName,
} from '../common/export-contract';
import { searchAttributeKeys } from '../common/search-attributes';
import type { ExportResult } from '../workflows/export-model';
import { parityCaseLines, paritySummary, signatureLines } from './signature-view';

export interface ExportSnapshot {
  workflowId: string;
  runId: string;
  status: string;
  progress: ExportProgress | undefined;
  /** From the running activity's last heartbeat: bytes of the ONNX upload finished so far. */
  upload: { done: number; total: number } | undefined;
  runningActivity: string | undefined;
}

/** Bytes finished according to a heartbeat of emitGraph ({upload}) or stageArtifact ({checkpoint}). */
function uploadFromHeartbeat(details: unknown): { done: number; total: number } | undefined {
  const d = details as { upload?: unknown; checkpoint?: unknown } | undefined;
  const cp = (d?.upload ?? d?.checkpoint) as { size?: number; parts?: { size: number }[] } | undefined;
  if (!cp || typeof cp.size !== 'number' || !Array.isArray(cp.parts)) return undefined;
  return { done: cp.parts.reduce((n, p) => n + p.size, 0), total: cp.size };
}

/**
 * What the ExportStage search attribute alone says: `done`, `failed:<stage>`, or the running stage
 * (an int8 stage, `int8:<stage>`, runs after every fp32 stage has passed).
 */
export function progressFromStage(value: string | undefined): ExportProgress | undefined {
  if (value === undefined) return undefined;
  const int8Index = INT8_STAGES.indexOf(value as Int8StageName);
  if (int8Index >= 0) {
    return {
      stage: value as Int8StageName,
      completedStages: [...EXPORT_STAGES, ...INT8_STAGES.slice(0, int8Index)],
      bytesUploaded: 0,
      bytesTotal: undefined,
      variants: { int8: { status: 'running', stage: value as Int8StageName } },
    };
  }
  const [state, failedStage] = value.split(':') as [string, string | undefined];
  const current = (failedStage ?? state) as StageName | 'done' | 'queued' | 'failed';
  const index = current === 'done' ? EXPORT_STAGES.length : EXPORT_STAGES.indexOf(current as StageName);
  return {
    stage: failedStage ? (failedStage as StageName) : (current as ExportProgress['stage']),
    completedStages: EXPORT_STAGES.slice(0, Math.max(0, index)),
    bytesUploaded: 0,
    bytesTotal: undefined,
    ...(state === 'failed' ? { failure: `failed at ${failedStage ?? 'the request check'}` } : {}),
  };
}

export async function snapshot(handle: WorkflowHandle): Promise<ExportSnapshot> {
  const described = await handle.describe();
  // The query needs a worker to answer; without one (a closed export, workers down) the ExportStage
  // search attribute, kept by the server, still tells which stages have passed.
  const progress =
    (await handle.query<ExportProgress>(PROGRESS_QUERY).catch(() => undefined)) ??
    progressFromStage(described.typedSearchAttributes.get(searchAttributeKeys.exportStage));
  let upload: ExportSnapshot['upload'];
  let runningActivity: string | undefined;
  for (const pending of described.raw.pendingActivities ?? []) {
    runningActivity = pending.activityType?.name ?? undefined;
    const payload = pending.heartbeatDetails?.payloads?.[0];
    if (payload) upload = uploadFromHeartbeat(defaultPayloadConverter.fromPayload(payload)) ?? upload;
  }
  return {
    workflowId: described.workflowId,
    runId: described.runId,
    status: described.status.name,
    progress,
    upload,
    runningActivity,
  };
}

const BAR_WIDTH = 30;

export function progressBar(done: number, total: number): string {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(frac * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * The stage list: done stages ticked, the current one marked, the rest waiting; the int8 stages
 * follow when the export has an int8 variant (a failed one marked ✗ with its reason).
 */
export function stageLines(s: ExportSnapshot): string[] {
  const done = new Set<AnyStageName>(s.progress?.completedStages ?? []);
  const int8 = s.progress?.variants?.int8;
  const stages: readonly AnyStageName[] = int8 ? [...EXPORT_STAGES, ...INT8_STAGES] : EXPORT_STAGES;
  return stages.map((stage) => {
    const current = s.progress?.stage === stage;
    const failedVariant = int8?.status === 'failed' && int8.stage === stage;
    const mark = done.has(stage) ? '✓' : failedVariant ? '✗' : current ? (s.status === 'RUNNING' ? '…' : '✗') : ' ';
    let line = `  [${mark}] ${stage}`;
    if (current && stage === 'emit' && s.upload) line += `  upload ${progressBar(s.upload.done, s.upload.total)}`;
    if (failedVariant && int8.reason) line += `  (variant failed alone: ${int8.reason})`;
    return line;
  });
}

/** One line per change, for logs and pipes: `stage emit running`, `upload 48.0 MiB/786.0 MiB`. */
export function plainLine(s: ExportSnapshot): string {
  const parts = [`${s.workflowId}: ${s.status.toLowerCase()}`, `stage ${s.progress?.stage ?? 'unknown'}`];
  if (s.upload) parts.push(`upload ${formatBytes(s.upload.done)}/${formatBytes(s.upload.total)}`);
  if (s.progress?.failure) parts.push(`failure: ${s.progress.failure}`);
  return parts.join(', ');
}

export function formatResult(r: ExportResult): string {
  const cpu = r.latency.cpu.batches.map((b) => `batch ${b.batchSize}: p50 ${b.stats.p50.toFixed(2)} ms`).join(', ');
  const gpu = r.latency.gpu.status === 'completed' ? 'measured' : `${r.latency.gpu.status} (${r.latency.gpu.reason})`;
  return [
    `export ${r.workflowId}: done`,
    `  onnx       ${r.onnx.uri} (${formatBytes(r.onnx.bytes)}, opset ${r.emission.opset}, ${r.emission.nodes} nodes)`,
    `  sha256     ${r.sha256}`,
    `  validation ${r.validation.ok ? 'ok' : 'FAILED'} (${r.validation.problems.length} problems)`,
    ...signatureLines(r.emission.signature),
    `  parity     ${paritySummary(r.parity)}`,
    ...parityCaseLines(r.parity, '             '),
    `  latency    CPU ${cpu}; GPU ${gpu}`,
    `  published  ${r.published.source}/`,
    `  registry   ${r.registry.modelUri}${r.registry.alias ? ` (@${r.registry.alias})` : ''}  ${r.registry.uiUrl}`,
    ...int8Lines(r.variants?.int8),
    `  Web UI     ${r.uiLink}`,
  ].join('\n');
}

/** The int8 variant's lines of the result (none for an fp32-only export, or one from before variants). */
export function int8Lines(v: ExportResult['variants']['int8']): string[] {
  if (!v) return [];
  if (v.status === 'failed') return [`  int8       FAILED at ${v.stage}: ${v.reason} (fp32 is published regardless)`];
  const worst = Math.max(...Object.values(v.parity.outputs).map((o) => o.mae));
  const cpu = v.latency.cpu.batches.map((b) => `batch ${b.batchSize}: p50 ${b.stats.p50.toFixed(2)} ms`).join(', ');
  return [
    `  int8       ${v.onnx.uri} (${formatBytes(v.onnx.bytes)}, ${(v.quantization.sizeRatio * 100).toFixed(0)}% of fp32; calibration ${v.quantization.method} on ${v.quantization.calibration.source})`,
    `    parity   worst MAE ${worst.toExponential(2)} (${v.parity.samples} samples); latency CPU ${cpu}`,
    `    registry ${v.registry.modelUri}${v.registry.alias ? ` (@${v.registry.alias})` : ''}  ${v.registry.uiUrl}`,
  ];
}
