/**
 * The gate chain every variant of an export passes, written once: a staged graph is validated,
 * checked for parity against PyTorch's reference outputs, benchmarked, then published and registered
 * under the variant's own registered model. Nothing is published before validation and parity have
 * passed on the staged bytes. fp32 runs it on the emitted graph, int8 on its quantized graph.
 *
 * It decides the order and what each stage is given; the caller decides the rest: the stage names
 * and what a failure means (the StageRunner), the tolerances, and what publish and register record
 * besides the gates' own reports (`publish`, `register`: a new field of those activities' inputs
 * passes through them unchanged).
 *
 * Workflow code: deterministic, activities only. Its commands are in every committed export
 * history: a change to their kind or order goes behind patched() (docs/workflow-versioning.md).
 */
import type { PublishModelInput } from '../activities/publish-model';
import type { RegisterModelActivityInput } from '../activities/register-model';
import type { ParityReport } from '../parity';
import type { PublishedModel, RegistryEntry } from '../registry';
import {
  DEFAULT_TOLERANCES,
  type ArtifactRef,
  type ModelVariant,
  type StageName,
  type ValidationReport,
} from '../common/export-contract';
import { runBenchmarkStage, type BenchmarkSettings, type BenchmarkStageResult } from './benchmark-stage';
import type { StageRunner } from './export-progress';
import { exportActivities as acts, STAGE_OPTIONS } from './stage-options';

/** The gates, in the order they run; a variant's stage names are these (fp32) or `int8:` before them. */
export type Gate = Exclude<StageName, 'emit'>;

/** What every variant of one export shares: its bundle, its run, how it is timed and registered. */
export interface ExportContext {
  /** The bundle whose reference cases parity compares with. */
  checkpointUri: string;
  workflowId: string;
  /** The training run (MLflow run id), when the request named one. */
  runId: string | undefined;
  benchmark: BenchmarkSettings;
  /** The alias each variant's version gets under its own registered model; null for none. */
  alias: string | null;
  description: string | undefined;
}

export interface VariantGatesInput {
  export: ExportContext;
  variant: ModelVariant;
  /** The registered model the variant's versions go to (`variantModelName`). */
  modelName: string;
  /** The staged graph the gates check and publish. */
  graph: ArtifactRef;
  /** Parity tolerances; one left out is the parity activity's default. */
  tolerances: { mae?: number; maxAbs?: number };
  /**
   * The graph a parity miss is diagnosed against (int8: the fp32 graph); without one, the parity
   * activity diagnoses against the reference's PyTorch intermediates when it holds any. A field of
   * the parity activity's input: the same commands either way.
   */
  diagnosisBaseline?: ArtifactRef;
  /** What the variant's published directory records besides what the gates give it (signature, tags). */
  publish: Omit<
    PublishModelInput,
    'artifact' | 'modelName' | 'opset' | 'runId' | 'workflowId' | 'parityReport' | 'latencyReports'
  >;
  /** What the variant's registered version records besides what the gates give it (its origin). */
  register: Omit<
    RegisterModelActivityInput,
    | 'published'
    | 'runId'
    | 'workflowId'
    | 'opset'
    | 'parity'
    | 'cpuP50Ms'
    | 'cpuP95Ms'
    | 'description'
    | 'alias'
    | 'variant'
  >;
  /** Words the Web UI's stage summaries add after the graph's hash (e.g. ` (412 nodes)`, ` (from m v3)`). */
  notes?: { validate?: string; register?: string };
}

/** What the gates found and made: the fields of the export's result (fp32) or of `variants.int8`. */
export interface VariantGatesResult {
  validation: ValidationReport;
  parity: ParityReport;
  latency: BenchmarkStageResult;
  published: PublishedModel;
  registry: RegistryEntry;
}

export async function runVariantGates(input: VariantGatesInput, stage: StageRunner<Gate>): Promise<VariantGatesResult> {
  const { export: context, graph, modelName, tolerances } = input;
  const hash = graph.sha256.slice(0, 12);
  const run = { ...(context.runId ? { runId: context.runId } : {}), workflowId: context.workflowId };
  // fp32's summaries name no variant: they read as they did before variants existed.
  const named = input.variant === 'fp32' ? '' : `${input.variant} `;

  const validation = await stage('validate', () =>
    acts.validateStructure.executeWithOptions(
      { ...STAGE_OPTIONS.validate, summary: `Check structure of ${named}${hash}${input.notes?.validate ?? ''}` },
      [graph],
    ),
  );

  const parity = await stage('parity', () =>
    acts.checkParity.executeWithOptions(
      {
        ...STAGE_OPTIONS.parity,
        summary: `${named ? `${named}parity` : 'Parity'} vs PyTorch reference (MAE ≤ ${tolerances.mae ?? DEFAULT_TOLERANCES.mae})`,
      },
      [
        {
          onnx: graph,
          checkpointUri: context.checkpointUri,
          ...(tolerances.mae !== undefined ? { mae: tolerances.mae } : {}),
          ...(tolerances.maxAbs !== undefined ? { maxAbs: tolerances.maxAbs } : {}),
          ...(input.diagnosisBaseline ? { diagnosisBaseline: input.diagnosisBaseline } : {}),
        },
      ],
    ),
  );

  const latency = await stage('benchmark', () =>
    runBenchmarkStage({
      model: { uri: graph.uri, sha256: graph.sha256, label: `${modelName}@${hash}` },
      ...context.benchmark,
    }),
  );

  const published = await stage('publish', () =>
    acts.publishModel.executeWithOptions(
      { ...STAGE_OPTIONS.publish, summary: `Publish models/${modelName}/${hash}…/ (MLflow model directory)` },
      [
        {
          artifact: graph,
          modelName,
          ...input.publish,
          opset: validation.opset,
          ...run,
          parityReport: parity,
          latencyReports: latency,
        },
      ],
    ),
  );

  const cpuStats = latency.cpu.batches[0]?.stats;
  const { alias } = context;
  const registry = await stage('register', () =>
    acts.registerModel.executeWithOptions(
      {
        ...STAGE_OPTIONS.register,
        summary: `Register ${modelName} version for ${hash}${input.notes?.register ?? ''}${alias ? ` as @${alias}` : ''}`,
      },
      [
        {
          published,
          ...run,
          opset: validation.opset,
          parity: worstErrors(parity),
          ...(cpuStats ? { cpuP50Ms: cpuStats.p50, cpuP95Ms: cpuStats.p95 } : {}),
          ...(context.description ? { description: context.description } : {}),
          alias,
          variant: input.variant,
          ...input.register,
        },
      ],
    ),
  );

  return { validation, parity, latency, published, registry };
}

/** The worst errors over every output, for the registry's tags (what promotion gates read). */
function worstErrors(report: ParityReport): { maxAbsError: number; meanAbsError: number } {
  const outputs = Object.values(report.outputs);
  return {
    maxAbsError: Math.max(...outputs.map((o) => o.maxAbs)),
    meanAbsError: Math.max(...outputs.map((o) => o.mae)),
  };
}
