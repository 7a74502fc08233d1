/**
 * One export's progress, as the `progress` query answers it and the `ExportStage` search attribute
 * shows it. Every stage of every variant is marked here, the same way; what a failed stage means is
 * the caller's to say: fp32's fails the export (`exportStages`), a variant's fails that variant
 * alone (`variantStages` leaves it to the variant's own result).
 *
 * Workflow code: deterministic, no I/O. Each mark is one search-attribute upsert, a command that
 * committed histories replay: adding, removing or reordering one goes behind patched().
 */
import { defineQuery, log, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import {
  PROGRESS_QUERY,
  type AnyStageName,
  type ExportProgress,
  type ExportStage,
  type Int8StageName,
  type StageName,
} from '../common/export-contract';
import { searchAttributeKeys } from '../common/search-attributes';

export const progressQuery = defineQuery<ExportProgress>(PROGRESS_QUERY);

/** A variant's own progress inside the export's (`progress.variants.int8`). */
export type VariantProgress = NonNullable<NonNullable<ExportProgress['variants']>['int8']>;

/** Runs one stage: marks it running, runs it, marks it completed. */
export type StageRunner<S extends AnyStageName> = <T>(name: S, run: () => Promise<T>) => Promise<T>;

/** `failed:<stage>`: the value an export that failed in a stage ends with (not an ExportStage member). */
type FailedStageValue = `failed:${StageName}`;

function showStage(value: ExportStage | FailedStageValue): void {
  upsertSearchAttributes([{ key: searchAttributeKeys.exportStage, value }]);
}

/** The export's progress, answered by the `progress` query from now on. */
export function trackProgress(): ExportProgress {
  const progress: ExportProgress = { stage: 'queued', completedStages: [], bytesUploaded: 0, bytesTotal: undefined };
  setHandler(progressQuery, () => progress);
  return progress;
}

/** A request refused before any stage ran: the export ends `failed`, with every problem. */
export function refuseRequest(progress: ExportProgress, problems: string[]): void {
  progress.stage = 'failed';
  progress.failure = problems.join('; ');
  showStage('failed');
}

/** fp32's stages (emit, then its gates): a failed one fails the export, `failed:<stage>` with why. */
export function exportStages(progress: ExportProgress, workflowId: string): StageRunner<StageName> {
  return async (name, run) => {
    progress.stage = name;
    showStage(name);
    try {
      const out = await run();
      progress.completedStages.push(name);
      return out;
    } catch (err) {
      progress.stage = 'failed';
      // The activity's own message (a parity miss's ends with its diagnosis), not "Activity task failed".
      const reason = innermostMessage(err);
      progress.failure = `${name}: ${reason}`;
      showStage(`failed:${name}`);
      showFailureDetails(name, reason);
      log.warn('export stage failed', { stage: name, workflowId });
      throw err;
    }
  };
}

/**
 * The int8 variant's stages, marked in its own progress too. A failure passes through unmarked: the
 * variant reports it in the result and the export goes on to `done`.
 */
export function variantStages(progress: ExportProgress, variant: VariantProgress): StageRunner<Int8StageName> {
  return async (name, run) => {
    progress.stage = name;
    variant.stage = name;
    showStage(name);
    const out = await run();
    progress.completedStages.push(name);
    return out;
  };
}

/**
 * The Web UI's "current details" of the export: the stage that failed and why (for a parity miss,
 * the diagnosis's first divergence ends the message). Not a command: histories replay unchanged.
 */
export function showFailureDetails(stage: AnyStageName, reason: string): void {
  setCurrentDetails(`**${stage} failed**\n\n${reason}`);
}

/** The deepest cause's message: an ActivityFailure says only "Activity task failed". */
function innermostMessage(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e instanceof Error && e.cause instanceof Error; depth++) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

/** Every stage has run (a variant may have failed alone). */
export function markDone(progress: ExportProgress): void {
  progress.stage = 'done';
  showStage('done');
}
