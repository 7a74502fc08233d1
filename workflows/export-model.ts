/**
 * exportModel: a checkpoint bundle in, a verified, benchmarked ONNX model published in the object
 * store and registered in MLflow out. Started by training workflows as a child (or by the CLI).
 *
 * The business order, top to bottom: check the request, emit the fp32 graph, pass it through the
 * gate chain every variant passes (workflows/variant-gates.ts: validate → parity → benchmark →
 * publish → register), then the variants derived from it. Bad input, an invalid graph and a parity
 * miss fail at once (non-retryable) and nothing is published. With `variants: ["fp32", "int8"]`, the
 * int8 variant runs after fp32 is registered (workflows/int8-variant.ts) and fails alone: the export
 * completes with fp32 published and the result's `variants.int8` saying what happened.
 *
 * Deterministic code only: stages are activities, with the options of workflows/stage-options.ts.
 * Changing this file while exports run: see docs/workflow-versioning.md (patched() for any change
 * to the order or kind of commands; replay tests of committed histories catch the rest).
 */
import { ApplicationFailure, type SearchAttributePair } from '@temporalio/common';
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { REGISTRY_DEFAULTS } from '../common/constants';
import {
  bundleReferenceUri,
  DEFAULT_OPSET,
  DEFAULT_VARIANTS,
  EXPORT_STAGES,
  type EmittedGraph,
  type ValidationReport,
} from '../common/export-contract';
import { checkExportRequest, type ExportRequest } from '../common/export-request';
import { FAILURE_TYPES } from '../common/failure-types';
import { EXPORT_OUTCOMES } from '../common/metrics';
import { searchAttributeKeys } from '../common/search-attributes';
import type { ParityReport } from '../parity';
import type { PublishedModel, RegistryEntry } from '../registry';
import { benchmarkSettingsOf, type BenchmarkStageResult } from './benchmark-stage';
import { exportStages, markDone, refuseRequest, trackProgress } from './export-progress';
import { runInt8Variant, type Int8VariantResult } from './int8-variant';
import { countedRun, countExport } from './metrics';
import { exportActivities as acts, STAGE_OPTIONS } from './stage-options';
import { runVariantGates, type ExportContext } from './variant-gates';

export { progressQuery } from './export-progress';

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
  const progress = trackProgress();

  // Any SDK can start this workflow with any JSON: every field is checked before the first command,
  // so a malformed request fails the export at once (non-retryable, naming the field) instead of
  // throwing later in workflow code, which would fail the workflow task and retry it forever.
  const checked = checkExportRequest(untrustedRequest);
  if (!checked.ok) {
    refuseRequest(progress, checked.problems);
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
  const stage = exportStages(progress, workflowId);

  const { onnx, ...emission } = await stage('emit', () => emitGraph(request));
  progress.bytesUploaded = onnx.bytes;
  progress.bytesTotal = onnx.bytes;
  progress.signature = emission.signature;
  upsertSearchAttributes([{ key: searchAttributeKeys.onnxSha256, value: onnx.sha256 }]);

  // Emitted by us or brought in the bundle: the fp32 version's tags and MLmodel say which, and who wrote
  // the graph. An export whose emit stage ran before emissions recorded it has none to pass.
  const provenance = emission.source ? { provenance: { source: emission.source, producer: emission.producer } } : {};
  const context: ExportContext = {
    checkpointUri: request.checkpointUri,
    workflowId,
    runId: request.runId,
    // The reference cases give the feeds their int64/bool values and default sizes (bench/ reads them only when needed).
    benchmark: {
      ...benchmarkSettingsOf(request.benchmark),
      reference: { uri: bundleReferenceUri(request.checkpointUri) },
    },
    alias: request.alias === undefined ? REGISTRY_DEFAULTS.alias : request.alias === '' ? null : request.alias,
    description: request.description,
  };
  const fp32 = await runVariantGates(
    {
      export: context,
      variant: 'fp32',
      modelName,
      graph: onnx,
      tolerances: request.parity ?? {},
      publish: { signature: emission.signature, checkpointSha256: emission.checkpointSha256, ...provenance },
      register: { ...provenance },
      notes: { validate: ` (${emission.nodes} nodes)` },
    },
    stage,
  );

  // The variants derived from the registered fp32 graph; each fails alone (never the export).
  const variants: ExportResult['variants'] = {};
  if ((request.variants ?? DEFAULT_VARIANTS).includes('int8')) {
    const fp32Graph = { onnx, emission, registry: fp32.registry };
    variants.int8 = await runInt8Variant({
      export: context,
      settings: request.int8,
      modelName,
      fp32: fp32Graph,
      progress,
    });
  }

  markDone(progress);
  const uiLink = await acts.workflowUiLink.executeWithOptions(
    { ...STAGE_OPTIONS.uiLink, summary: 'Web UI link of this export for its result' },
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
    ...fp32,
    uiLink,
    variants,
  };
}

/** The emit stage's activity: the bundle's graph, written and staged by its sha256. */
function emitGraph(request: ExportRequest): Promise<EmittedGraph> {
  return acts.emitGraph.executeWithOptions(
    {
      ...STAGE_OPTIONS.emit,
      // What the request asks for; a bundle that brings its own model.onnx is staged at that graph's opset.
      summary: `Emit ONNX opset ${request.opset ?? DEFAULT_OPSET} from ${request.checkpointUri}`,
    },
    [
      {
        checkpointUri: request.checkpointUri,
        ...(request.opset !== undefined ? { opset: request.opset } : {}),
        ...(request.runId ? { runId: request.runId } : {}),
      },
    ],
  );
}

export { EXPORT_STAGES };
