/**
 * Counting workflow outcomes through the SDK's workflow `metricMeter`: it emits nothing while a
 * workflow replays and issues no commands, so counting never changes a history (replay tests agree).
 * The meter adds namespace, task queue and workflow type tags of its own.
 */
import { isCancellation, metricMeter } from '@temporalio/workflow';
import {
  METRIC_LABELS,
  METRICS,
  type ExportOutcome,
  type GpuSkipReason,
  type PromotionOutcome,
} from '../common/metrics';

/** Counters are made at the call: the meter may only be used inside a running workflow. */
function count(name: string, description: string, label: string, value: string): void {
  metricMeter.createCounter(name, undefined, description).add(1, { [label]: value });
}

export function countExport(outcome: ExportOutcome): void {
  count(METRICS.exports, 'exportModel runs that ended, by outcome', METRIC_LABELS.outcome, outcome);
}

export function countPromotion(outcome: PromotionOutcome): void {
  count(METRICS.promotions, 'promoteModel runs that ended, by outcome', METRIC_LABELS.outcome, outcome);
}

export function countGpuSkip(reason: GpuSkipReason): void {
  count(METRICS.gpuBenchmarksSkipped, 'GPU benchmarks not run, by reason', METRIC_LABELS.reason, reason);
}

/**
 * Runs a workflow body and counts how it ended: `outcomeOf` names a success, `failureOf` a thrown
 * error (cancellations are counted as such before it is asked). The error is rethrown unchanged.
 */
export async function countedRun<T, O extends string>(
  body: () => Promise<T>,
  outcomeOf: (result: T) => O,
  failureOf: (err: unknown) => O,
  cancelled: O,
  record: (outcome: O) => void,
): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (err) {
    record(isCancellation(err) ? cancelled : failureOf(err));
    throw err;
  }
  record(outcomeOf(result));
  return result;
}
