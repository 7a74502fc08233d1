/**
 * The int8 variant of an export, as a helper of exportModel (deterministic: only activity calls
 * through proxies). It runs after the fp32 version is registered, on the staged fp32 graph:
 *
 *   int8:quantize → int8:validate → int8:parity → int8:benchmark → int8:publish → int8:register
 *
 * the same gates as fp32 (structure, parity against PyTorch's reference outputs with the int8
 * tolerances, the same benchmark settings), then published at `models/<modelName>-int8/<sha256>/`
 * and registered as a version of its own registered model `<modelName>-int8`, tagged with the fp32
 * version it came from. A variant that misses a gate, or whose publish or register fails after its
 * retries, fails alone: this returns `{ status: 'failed', stage, reason }` and the export completes
 * with fp32 published. A cancellation is never swallowed.
 */
import { ApplicationFailure, type ActivityOptions } from '@temporalio/common';
import { isCancellation, log, upsertSearchAttributes, type proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { QuantizationReport } from '../activities/quantize-graph';
import type { ParityReport } from '../parity';
import type { PublishedModel, RegistryEntry } from '../registry';
import {
  DEFAULT_INT8_TOLERANCES,
  variantModelName,
  type ArtifactRef,
  type EmittedGraph,
  type ExportProgress,
  type Int8StageName,
  type ValidationReport,
} from '../common/export-contract';
import type { ExportRequest } from '../common/export-request';
import { searchAttributeKeys } from '../common/search-attributes';
import { runBenchmarkStage, type BenchmarkStageInput, type BenchmarkStageResult } from './benchmark-stage';

/** The int8 variant's outcome in the export's result (`variants.int8`). */
export type Int8VariantResult =
  | {
      status: 'failed';
      /** The int8 stage that failed. */
      stage: Int8StageName;
      /** Why, as the failing activity said it. */
      reason: string;
      /** The failure's type (`ParityFailed`, `InvalidGraph`, `InvalidInput`, …) when it had one. */
      failureType: string | undefined;
    }
  | {
      status: 'published';
      /** `<modelName>-int8`. */
      modelName: string;
      sha256: string;
      onnx: ArtifactRef;
      quantization: QuantizationReport;
      validation: ValidationReport;
      parity: ParityReport;
      latency: BenchmarkStageResult;
      published: PublishedModel;
      registry: RegistryEntry;
    };

export interface Int8VariantInput {
  request: ExportRequest;
  /** The fp32 registered model name; the int8 versions go to `<modelName>-int8`. */
  modelName: string;
  workflowId: string;
  /** The fp32 graph, as emitted and staged, and its registered version. */
  fp32: { onnx: ArtifactRef; emission: Omit<EmittedGraph, 'onnx'>; registry: RegistryEntry };
  /** The alias the fp32 version got (null for none): the int8 version gets the same one under its own name. */
  alias: string | null;
  /** The benchmark settings the fp32 graph was timed with, minus the model. */
  benchmark: Omit<BenchmarkStageInput, 'model'>;
  progress: ExportProgress;
}

export interface Int8VariantDeps {
  acts: ReturnType<typeof proxyActivities<Activities>>;
  options: Record<'quantize' | 'validate' | 'parity' | 'publish' | 'register', ActivityOptions>;
  summariseParity: (report: ParityReport) => { maxAbsError: number; meanAbsError: number };
}

/** The message and type of the failure an activity (or the benchmark stage) ended with. */
function failureOf(err: unknown): { reason: string; failureType: string | undefined } {
  let e: unknown = err;
  // ActivityFailure says only "Activity task failed": the ApplicationFailure it wraps says why.
  while (e instanceof Error && !(e instanceof ApplicationFailure) && e.cause instanceof Error) e = e.cause;
  if (e instanceof ApplicationFailure) return { reason: e.message, failureType: e.type ?? undefined };
  return { reason: e instanceof Error ? e.message : String(e), failureType: undefined };
}

export async function runInt8Variant(input: Int8VariantInput, deps: Int8VariantDeps): Promise<Int8VariantResult> {
  const { request, progress, workflowId, fp32 } = input;
  const { acts, options } = deps;
  const modelName = variantModelName(input.modelName, 'int8');
  const checkpointUri = request.checkpointUri;
  const tolerances = {
    mae: request.int8?.parity?.mae ?? DEFAULT_INT8_TOLERANCES.mae,
    maxAbs: request.int8?.parity?.maxAbs ?? DEFAULT_INT8_TOLERANCES.maxAbs,
  };
  const variant: NonNullable<NonNullable<ExportProgress['variants']>['int8']> = { status: 'running' };
  progress.variants = { ...progress.variants, int8: variant };
  let current: Int8StageName = 'int8:quantize';

  async function stage<T>(name: Int8StageName, run: () => Promise<T>): Promise<T> {
    current = name;
    progress.stage = name;
    variant.stage = name;
    upsertSearchAttributes([{ key: searchAttributeKeys.exportStage, value: name }]);
    const out = await run();
    progress.completedStages.push(name);
    return out;
  }

  try {
    const quantized = await stage('int8:quantize', () =>
      acts.quantizeGraph.executeWithOptions(
        {
          ...options.quantize,
          summary: `Quantize ${fp32.onnx.sha256.slice(0, 12)} to int8 (calibration ${request.int8?.calibration ?? 'default'})`,
        },
        [
          {
            fp32: fp32.onnx,
            checkpointUri,
            ...(request.int8?.calibration ? { method: request.int8.calibration } : {}),
          },
        ],
      ),
    );
    const { onnx, report: quantization } = quantized;

    const validation = await stage('int8:validate', () =>
      acts.validateStructure.executeWithOptions(
        { ...options.validate, summary: `Check structure of int8 ${onnx.sha256.slice(0, 12)}` },
        [onnx],
      ),
    );

    const parity = await stage('int8:parity', () =>
      acts.checkParity.executeWithOptions(
        { ...options.parity, summary: `int8 parity vs PyTorch reference (MAE ≤ ${tolerances.mae})` },
        [{ onnx, checkpointUri, mae: tolerances.mae, maxAbs: tolerances.maxAbs }],
      ),
    );

    const latency = await stage('int8:benchmark', () =>
      runBenchmarkStage({
        ...input.benchmark,
        model: { uri: onnx.uri, sha256: onnx.sha256, label: `${modelName}@${onnx.sha256.slice(0, 12)}` },
      }),
    );

    const metadata = {
      variant: 'int8',
      fp32_model_name: input.modelName,
      fp32_model_version: fp32.registry.version,
      fp32_onnx_sha256: fp32.onnx.sha256,
      calibration_method: quantization.method,
      calibration_source: quantization.calibration.source,
    };
    const published = await stage('int8:publish', () =>
      acts.publishModel.executeWithOptions(
        {
          ...options.publish,
          summary: `Publish models/${modelName}/${onnx.sha256.slice(0, 12)}…/ (MLflow model directory)`,
        },
        [
          {
            artifact: onnx,
            modelName,
            // No signature: the publish stage reads it from the int8 graph itself.
            opset: validation.opset,
            ...(request.runId ? { runId: request.runId } : {}),
            workflowId,
            checkpointSha256: fp32.emission.checkpointSha256,
            parityReport: parity,
            latencyReports: latency,
            metadata,
          },
        ],
      ),
    );

    const cpuStats = latency.cpu.batches[0]?.stats;
    const registry = await stage('int8:register', () =>
      acts.registerModel.executeWithOptions(
        {
          ...options.register,
          summary: `Register ${modelName} version for ${onnx.sha256.slice(0, 12)} (from ${input.modelName} v${fp32.registry.version})${input.alias ? ` as @${input.alias}` : ''}`,
        },
        [
          {
            published,
            ...(request.runId ? { runId: request.runId } : {}),
            workflowId,
            opset: validation.opset,
            parity: deps.summariseParity(parity),
            ...(cpuStats ? { cpuP50Ms: cpuStats.p50, cpuP95Ms: cpuStats.p95 } : {}),
            ...(request.description ? { description: request.description } : {}),
            alias: input.alias,
            variant: 'int8',
            derivedFrom: { modelVersion: fp32.registry.version, onnxSha256: fp32.onnx.sha256 },
            calibration: { method: quantization.method, source: quantization.calibration.source },
          },
        ],
      ),
    );

    variant.status = 'published';
    return {
      status: 'published',
      modelName,
      sha256: onnx.sha256,
      onnx,
      quantization,
      validation,
      parity,
      latency,
      published,
      registry,
    };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const { reason, failureType } = failureOf(err);
    variant.status = 'failed';
    variant.reason = `${current}: ${reason}`;
    log.warn('int8 variant failed; the export goes on with fp32', { stage: current, workflowId, failureType });
    return { status: 'failed', stage: current, reason, failureType };
  }
}
