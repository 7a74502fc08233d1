/**
 * exportModel: a checkpoint bundle in, a verified, benchmarked ONNX model published in the object
 * store and registered in MLflow out. Started by training workflows as a child (or by the CLI).
 *
 * Deterministic code only: stages are activities, each with timeouts and retries sized to its work.
 * Bad input, an invalid graph and a parity miss fail at once (non-retryable) and nothing is
 * published: validation and parity run on the staged artifact before publish and register.
 *
 * With `variants: ["fp32", "int8"]`, the int8 variant runs after fp32 is registered
 * (workflows/int8-variant.ts) and fails alone: the export completes with fp32 published and the
 * result's `variants.int8` saying what happened. An fp32-only request issues the same commands as
 * before variants existed.
 *
 * Changing this file while exports run: see docs/workflow-versioning.md (patched() for any change
 * to the order or kind of commands; replay tests of committed histories catch the rest).
 */
import {
  ApplicationFailure,
  type ActivityOptions,
  type Duration,
  type RetryPolicy,
  type SearchAttributePair,
} from '@temporalio/common';
import {
  defineQuery,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  log,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ParityReport } from '../parity';
import type { PublishedModel, RegistryEntry } from '../registry';
import { REGISTRY_DEFAULTS } from '../common/constants';
import { FAILURE_TYPES, FINAL_FAILURE_TYPES } from '../common/failure-types';
import { searchAttributeKeys } from '../common/search-attributes';
import {
  DEFAULT_OPSET,
  DEFAULT_TOLERANCES,
  EXPORT_STAGES,
  PROGRESS_QUERY,
  type EmittedGraph,
  type ExportProgress,
  type ExportStage,
  type StageName,
  DEFAULT_VARIANTS,
  type ValidationReport,
} from '../common/export-contract';
import { checkExportRequest, type ExportRequest } from '../common/export-request';
import { EXPORT_OUTCOMES } from '../common/metrics';
import { runBenchmarkStage, type BenchmarkStageInput, type BenchmarkStageResult } from './benchmark-stage';
import { runInt8Variant, type Int8VariantResult } from './int8-variant';
import { countedRun, countExport } from './metrics';

export const progressQuery = defineQuery<ExportProgress>(PROGRESS_QUERY);

/**
 * The stages' retry policy: exponential from 2 s, never retrying a final failure (activities raise
 * those as non-retryable too). Stages differ only in how long and how often they keep trying: the
 * computing stages (emit, validate, parity) up to 10 attempts a minute apart at most, the
 * server-facing ones (publish, register) up to 20, two minutes apart, to ride out a server restart.
 */
function stageRetry(maximumInterval: Duration, maximumAttempts: number): RetryPolicy {
  return {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval,
    maximumAttempts,
    nonRetryableErrorTypes: [...FINAL_FAILURE_TYPES],
  };
}
const COMPUTE_RETRY = stageRetry('1 minute', 10);
const SERVER_RETRY = stageRetry('2 minutes', 20);

/**
 * Per-stage activity options. Heartbeat timeouts are short where the activity heartbeats while it
 * streams (emit, publish), so a killed worker's attempt is retried within a minute, not an hour.
 */
const STAGE_OPTIONS = {
  emit: { startToCloseTimeout: '30 minutes', heartbeatTimeout: '1 minute', retry: COMPUTE_RETRY },
  /** The int8 variant's quantize stage: calibration runs and the staging upload, heartbeating. */
  quantize: { startToCloseTimeout: '30 minutes', heartbeatTimeout: '1 minute', retry: COMPUTE_RETRY },
  validate: { startToCloseTimeout: '10 minutes', retry: COMPUTE_RETRY },
  parity: { startToCloseTimeout: '20 minutes', retry: COMPUTE_RETRY },
  publish: { startToCloseTimeout: '30 minutes', heartbeatTimeout: '1 minute', retry: SERVER_RETRY },
  register: { startToCloseTimeout: '5 minutes', retry: SERVER_RETRY },
} as const satisfies Record<string, ActivityOptions>;

const acts = proxyActivities<Activities>({ startToCloseTimeout: '10 minutes' });

export interface ExportResult {
  workflowId: string;
  modelName: string;
  runId: string | undefined;
  checkpointUri: string;
  sha256: string;
  onnx: EmittedGraph['onnx'];
  emission: Omit<EmittedGraph, 'onnx'>;
  validation: ValidationReport;
  parity: ParityReport;
  latency: BenchmarkStageResult;
  published: PublishedModel;
  registry: RegistryEntry;
  uiLink: string;
  /**
   * The variants beyond fp32 that the request asked for, each `published` (with its own reports and
   * registry entry) or `failed` (stage and reason); empty for an fp32-only export. The fields above
   * are fp32's.
   */
  variants: { int8?: Int8VariantResult };
}

export async function exportModel(untrustedRequest: ExportRequest): Promise<ExportResult> {
  return countedRun(
    () => runExport(untrustedRequest),
    // A second export of the same bundle finds the directory complete and the version registered.
    (result) =>
      result.published.written || result.registry.created
        ? EXPORT_OUTCOMES.published
        : EXPORT_OUTCOMES.alreadyPublished,
    (err) =>
      err instanceof ApplicationFailure && err.type === FAILURE_TYPES.invalidInput
        ? EXPORT_OUTCOMES.invalidRequest
        : EXPORT_OUTCOMES.failed,
    EXPORT_OUTCOMES.cancelled,
    countExport,
  );
}

async function runExport(untrustedRequest: ExportRequest): Promise<ExportResult> {
  const { workflowId, runId: temporalRunId } = workflowInfo();
  const progress: ExportProgress = { stage: 'queued', completedStages: [], bytesUploaded: 0, bytesTotal: undefined };
  setHandler(progressQuery, () => progress);

  // Any SDK can start this workflow with any JSON: every field is checked before the first command,
  // so a malformed request fails the export at once (non-retryable, naming the field) instead of
  // throwing later in workflow code, which would fail the workflow task and retry it forever.
  const checked = checkExportRequest(untrustedRequest);
  if (!checked.ok) {
    progress.stage = 'failed';
    progress.failure = checked.problems.join('; ');
    upsertSearchAttributes([{ key: searchAttributeKeys.exportStage, value: 'failed' }]);
    throw ApplicationFailure.create({
      message: `invalid export request: ${checked.problems.join('; ')}`,
      type: FAILURE_TYPES.invalidInput,
      nonRetryable: true,
    });
  }
  const request = checked.request;
  const modelName = request.modelName ?? REGISTRY_DEFAULTS.modelName;
  const attributes: SearchAttributePair[] = [{ key: searchAttributeKeys.modelName, value: modelName }];
  if (request.runId) attributes.push({ key: searchAttributeKeys.trainingRunId, value: request.runId });
  upsertSearchAttributes(attributes);

  /** Runs one stage: marks it in the query and the ExportStage search attribute, records failure. */
  async function stage<T>(name: StageName, run: () => Promise<T>): Promise<T> {
    progress.stage = name;
    upsertSearchAttributes([{ key: searchAttributeKeys.exportStage, value: name }]);
    try {
      const out = await run();
      progress.completedStages.push(name);
      return out;
    } catch (err) {
      progress.stage = 'failed';
      progress.failure = `${name}: ${err instanceof Error ? err.message : String(err)}`;
      upsertSearchAttributes([{ key: searchAttributeKeys.exportStage, value: `failed:${name}` as ExportStage }]);
      log.warn('export stage failed', { stage: name, workflowId });
      throw err;
    }
  }

  const emitted = await stage('emit', () =>
    acts.emitGraph.executeWithOptions(
      {
        ...STAGE_OPTIONS.emit,
        summary: `Emit ONNX opset ${request.opset ?? DEFAULT_OPSET} from ${request.checkpointUri}`,
      },
      [
        {
          checkpointUri: request.checkpointUri,
          ...(request.opset !== undefined ? { opset: request.opset } : {}),
          ...(request.runId ? { runId: request.runId } : {}),
        },
      ],
    ),
  );
  const { onnx, ...emission } = emitted;
  progress.bytesUploaded = onnx.bytes;
  progress.bytesTotal = onnx.bytes;
  upsertSearchAttributes([{ key: searchAttributeKeys.onnxSha256, value: onnx.sha256 }]);

  const validation = await stage('validate', () =>
    acts.validateStructure.executeWithOptions(
      {
        ...STAGE_OPTIONS.validate,
        summary: `Check structure of ${onnx.sha256.slice(0, 12)} (${emission.nodes} nodes)`,
      },
      [onnx],
    ),
  );

  const parity = await stage('parity', () =>
    acts.checkParity.executeWithOptions(
      {
        ...STAGE_OPTIONS.parity,
        summary: `Parity vs PyTorch reference (MAE ≤ ${request.parity?.mae ?? DEFAULT_TOLERANCES.mae})`,
      },
      [
        {
          onnx,
          checkpointUri: request.checkpointUri,
          ...(request.parity?.mae !== undefined ? { mae: request.parity.mae } : {}),
          ...(request.parity?.maxAbs !== undefined ? { maxAbs: request.parity.maxAbs } : {}),
        },
      ],
    ),
  );

  const benchmark: Omit<BenchmarkStageInput, 'model'> = {
    ...(request.benchmark?.batchSizes ? { batchSizes: request.benchmark.batchSizes } : {}),
    ...(request.benchmark?.threads !== undefined ? { threads: request.benchmark.threads } : {}),
    ...(request.benchmark?.maxRuns !== undefined ? { maxRuns: request.benchmark.maxRuns } : {}),
    ...(request.benchmark?.timeBudgetMs !== undefined ? { timeBudgetMs: request.benchmark.timeBudgetMs } : {}),
    ...(request.benchmark?.gpu !== undefined ? { gpu: request.benchmark.gpu } : {}),
    ...(request.benchmark?.gpuScheduleToStartTimeout
      ? { gpuScheduleToStartTimeout: request.benchmark.gpuScheduleToStartTimeout as '10 minutes' }
      : {}),
  };
  const latency = await stage('benchmark', () =>
    runBenchmarkStage({
      model: { uri: onnx.uri, sha256: onnx.sha256, label: `${modelName}@${onnx.sha256.slice(0, 12)}` },
      ...benchmark,
    }),
  );

  const published = await stage('publish', () =>
    acts.publishModel.executeWithOptions(
      {
        ...STAGE_OPTIONS.publish,
        summary: `Publish models/${modelName}/${onnx.sha256.slice(0, 12)}…/ (MLflow model directory)`,
      },
      [
        {
          artifact: onnx,
          modelName,
          signature: emission.signature,
          opset: emission.opset,
          ...(request.runId ? { runId: request.runId } : {}),
          workflowId,
          checkpointSha256: emission.checkpointSha256,
          ...(emission.source ? { provenance: { source: emission.source, producer: emission.producer } } : {}),
          parityReport: parity,
          latencyReports: latency,
        },
      ],
    ),
  );

  const cpuStats = latency.cpu.batches[0]?.stats;
  const alias = request.alias === undefined ? REGISTRY_DEFAULTS.alias : request.alias === '' ? null : request.alias;
  const registry = await stage('register', () =>
    acts.registerModel.executeWithOptions(
      {
        ...STAGE_OPTIONS.register,
        summary: `Register ${modelName} version for ${onnx.sha256.slice(0, 12)}${alias ? ` as @${alias}` : ''}`,
      },
      [
        {
          published,
          ...(request.runId ? { runId: request.runId } : {}),
          workflowId,
          opset: emission.opset,
          parity: summariseParity(parity),
          ...(cpuStats ? { cpuP50Ms: cpuStats.p50, cpuP95Ms: cpuStats.p95 } : {}),
          ...(request.description ? { description: request.description } : {}),
          alias,
          variant: 'fp32',
          ...(emission.source ? { provenance: { source: emission.source, producer: emission.producer } } : {}),
        },
      ],
    ),
  );

  // The variants derived from the registered fp32 graph; each fails alone (never the export).
  const variants: ExportResult['variants'] = {};
  if ((request.variants ?? DEFAULT_VARIANTS).includes('int8')) {
    variants.int8 = await runInt8Variant(
      { request, modelName, workflowId, fp32: { onnx, emission, registry }, alias, benchmark, progress },
      { acts, options: STAGE_OPTIONS, summariseParity },
    );
  }

  progress.stage = 'done';
  upsertSearchAttributes([{ key: searchAttributeKeys.exportStage, value: 'done' }]);
  const uiLink = await acts.workflowUiLink.executeWithOptions(
    { startToCloseTimeout: '1 minute', summary: 'Web UI link of this export for its result' },
    [workflowId, temporalRunId],
  );
  return {
    workflowId,
    modelName,
    runId: request.runId,
    checkpointUri: request.checkpointUri,
    sha256: onnx.sha256,
    onnx,
    emission,
    validation,
    parity,
    latency,
    published,
    registry,
    uiLink,
    variants,
  };
}

/** The worst errors over both outputs, for the registry's tags. */
function summariseParity(report: ParityReport): { maxAbsError: number; meanAbsError: number } {
  const outputs = Object.values(report.outputs);
  return {
    maxAbsError: Math.max(...outputs.map((o) => o.maxAbs)),
    meanAbsError: Math.max(...outputs.map((o) => o.mae)),
  };
}

export { EXPORT_STAGES };
