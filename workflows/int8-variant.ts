/**
 * The int8 variant of an export, as a helper of exportModel (deterministic: only activity calls
 * through proxies). It runs after the fp32 version is registered, on the staged fp32 graph: the
 * quantize stage makes the int8 graph, then the gate chain every variant passes
 * (workflows/variant-gates.ts) checks, times, publishes and registers it:
 *
 *   int8:quantize → int8:validate → int8:parity → int8:benchmark → int8:publish → int8:register
 *
 * Parity uses the int8 tolerances, the benchmark fp32's settings; the graph is published at
 * `models/<modelName>-int8/<sha256>/` and registered as a version of its own registered model
 * `<modelName>-int8`, tagged with the fp32 version it came from. A variant that misses a gate, or
 * whose publish or register fails after its retries, fails alone: this returns `{ status: 'failed',
 * stage, reason }` and the export completes with fp32 published. A cancellation is never swallowed.
 *
 * The quantize stage is accuracy-aware: given the gate, it keeps the int8 graph's most sensitive
 * nodes float until the graph passes (at most `maxFloatFraction` of them). The commands are the same
 * as before it (one quantize activity, with a new input field), so committed histories replay. When
 * the search reached its bound, the graph it staged is the best it found and the parity gate fails
 * it; the failure's reason then says what the search reached.
 */
import { ApplicationFailure } from '@temporalio/common';
import { isCancellation, log } from '@temporalio/workflow';
import type { QuantizationReport } from '../activities/quantize-graph';
import {
  DEFAULT_INT8_MAX_FLOAT_FRACTION,
  DEFAULT_INT8_TOLERANCES,
  variantModelName,
  type ArtifactRef,
  type EmittedGraph,
  type ExportProgress,
  type Int8StageName,
} from '../common/export-contract';
import type { ExportRequest } from '../common/export-request';
import type { RegistryEntry } from '../registry';
import { showFailureDetails, variantStages, type VariantProgress } from './export-progress';
import { exportActivities as acts, STAGE_OPTIONS } from './stage-options';
import { runVariantGates, type ExportContext, type VariantGatesResult } from './variant-gates';

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
  | ({
      status: 'published';
      /** `<modelName>-int8`. */
      modelName: string;
      sha256: string;
      onnx: ArtifactRef;
      quantization: QuantizationReport;
    } & VariantGatesResult);

export interface Int8VariantInput {
  /** What fp32 was checked, timed and registered with: int8 gets the same benchmark and alias. */
  export: ExportContext;
  /** The request's int8 settings: calibration method and parity tolerances. */
  settings: ExportRequest['int8'];
  /** The fp32 registered model name; the int8 versions go to `<modelName>-int8`. */
  modelName: string;
  /** The fp32 graph, as emitted and staged, and its registered version. */
  fp32: { onnx: ArtifactRef; emission: Omit<EmittedGraph, 'onnx'>; registry: RegistryEntry };
  progress: ExportProgress;
}

/** The message and type of the failure an activity (or the benchmark stage) ended with. */
function failureOf(err: unknown): { reason: string; failureType: string | undefined } {
  let e: unknown = err;
  // ActivityFailure says only "Activity task failed": the ApplicationFailure it wraps says why.
  while (e instanceof Error && !(e instanceof ApplicationFailure) && e.cause instanceof Error) e = e.cause;
  if (e instanceof ApplicationFailure) return { reason: e.message, failureType: e.type ?? undefined };
  return { reason: e instanceof Error ? e.message : String(e), failureType: undefined };
}

/** What the accuracy-aware search reached when it could not meet the gate, for the failure's message. */
function searchSummary(search: NonNullable<QuantizationReport['accuracySearch']>): string {
  const { reached } = search;
  const stop =
    search.stop === 'bound'
      ? `the bound (at most ${search.maxFloat} of ${search.quantizable} quantizable nodes float, maxFloatFraction ${search.maxFloatFraction})`
      : `'${search.stop}'`;
  return (
    `accuracy-aware int8 stopped at ${stop}; the best graph it found (the one parity checked) keeps ` +
    `${search.floatNodes.length} nodes float, MAE ${reached.mae.toExponential(3)}, max abs error ` +
    `${reached.maxAbs.toExponential(3)} (gate MAE ≤ ${search.gate.mae}, max ≤ ${search.gate.maxAbs}; ${search.rounds.length} rounds` +
    (search.replayed ? `, ${search.replayed.rounds} of them done by an earlier attempt of the quantize stage` : '') +
    ')'
  );
}

export async function runInt8Variant(input: Int8VariantInput): Promise<Int8VariantResult> {
  const { settings, progress, fp32 } = input;
  const modelName = variantModelName(input.modelName, 'int8');
  const variant: VariantProgress = { status: 'running' };
  progress.variants = { ...progress.variants, int8: variant };
  const stage = variantStages(progress, variant);

  const tolerances = {
    mae: settings?.parity?.mae ?? DEFAULT_INT8_TOLERANCES.mae,
    maxAbs: settings?.parity?.maxAbs ?? DEFAULT_INT8_TOLERANCES.maxAbs,
  };
  const maxFloatFraction = settings?.maxFloatFraction ?? DEFAULT_INT8_MAX_FLOAT_FRACTION;
  let quantization: QuantizationReport | undefined;
  try {
    const quantized = await stage('int8:quantize', () =>
      acts.quantizeGraph.executeWithOptions(
        {
          ...STAGE_OPTIONS.quantize,
          summary: `Quantize ${fp32.onnx.sha256.slice(0, 12)} to int8 (calibration ${settings?.calibration ?? 'default'})`,
        },
        [
          {
            fp32: fp32.onnx,
            checkpointUri: input.export.checkpointUri,
            ...(settings?.calibration ? { method: settings.calibration } : {}),
            // The activity searches for nodes to keep float while the graph misses this gate.
            accuracy: { ...tolerances, maxFloatFraction },
          },
        ],
      ),
    );
    const { onnx } = quantized;
    quantization = quantized.report;
    const search = quantization.accuracySearch;

    const gates = await runVariantGates(
      {
        export: input.export,
        variant: 'int8',
        modelName,
        graph: onnx,
        tolerances,
        // A parity miss is diagnosed against the fp32 graph, at the int8 gate's tolerances.
        diagnosisBaseline: fp32.onnx,
        // No signature: the publish stage reads it from the int8 graph itself.
        publish: {
          checkpointSha256: fp32.emission.checkpointSha256,
          metadata: {
            variant: 'int8',
            fp32_model_name: input.modelName,
            fp32_model_version: fp32.registry.version,
            fp32_onnx_sha256: fp32.onnx.sha256,
            calibration_method: quantization.method,
            calibration_source: quantization.calibration.source,
            ...(search ? { int8_float_nodes: String(search.floatNodes.length) } : {}),
          },
          quantizationReport: quantization,
        },
        register: {
          derivedFrom: { modelVersion: fp32.registry.version, onnxSha256: fp32.onnx.sha256 },
          calibration: { method: quantization.method, source: quantization.calibration.source },
          ...(search
            ? { keptFloat: { nodes: search.floatNodes.map((f) => f.node), quantizable: search.quantizable } }
            : {}),
        },
        notes: { register: ` (from ${input.modelName} v${fp32.registry.version})` },
      },
      (gate, run) => stage(`int8:${gate}`, run),
    );

    variant.status = 'published';
    return { status: 'published', modelName, sha256: onnx.sha256, onnx, quantization, ...gates };
  } catch (err) {
    if (isCancellation(err)) throw err;
    const failure = failureOf(err);
    const { failureType } = failure;
    const failedStage = variant.stage ?? 'int8:quantize';
    const search = quantization?.accuracySearch;
    const reason =
      failedStage === 'int8:parity' && search !== undefined && !search.passed
        ? `${failure.reason}; ${searchSummary(search)}`
        : failure.reason;
    variant.status = 'failed';
    variant.reason = `${failedStage}: ${reason}`;
    showFailureDetails(failedStage, reason);
    log.warn('int8 variant failed; the export goes on with fp32', {
      stage: failedStage,
      workflowId: input.export.workflowId,
      failureType,
    });
    return { status: 'failed', stage: failedStage, reason, failureType };
  }
}
