/**
 * An activity inbound interceptor registered on every worker of the host: it times each activity
 * attempt into `onnx_export_stage_duration_seconds{stage=<activity type>, outcome}` and adds the
 * bytes an activity reports having sent to the object store (an `upload.bytesSent`, as emitGraph's
 * EmittedGraph carries) to `onnx_export_uploaded_bytes_total`. Activities stay untouched; with no
 * metrics exporter installed the SDK's meter drops everything.
 */
import type { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptors,
  Next,
} from '@temporalio/worker';
import { METRIC_LABELS, METRICS, STAGE_OUTCOMES, type StageOutcome } from '../common/metrics';

/** The bytes an activity's result says it sent to the object store, when it says so. */
export function uploadedBytesOf(result: unknown): number {
  const sent = (result as { upload?: { bytesSent?: unknown } } | null | undefined)?.upload?.bytesSent;
  return typeof sent === 'number' && Number.isFinite(sent) && sent > 0 ? sent : 0;
}

class StageMetricsInterceptor implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: Context) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const started = process.hrtime.bigint();
    let outcome: StageOutcome = STAGE_OUTCOMES.failed;
    try {
      const result = await next(input);
      outcome = STAGE_OUTCOMES.completed;
      const bytes = uploadedBytesOf(result);
      if (bytes > 0) {
        this.ctx.metricMeter
          .createCounter(METRICS.uploadedBytes, 'bytes', 'bytes sent to the object store by activities')
          .add(bytes);
      }
      return result;
    } catch (err) {
      if (err instanceof CancelledFailure || this.ctx.cancellationSignal.aborted) outcome = STAGE_OUTCOMES.cancelled;
      throw err;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.ctx.metricMeter
        .createHistogram(METRICS.stageDuration, 'float', 's', 'activity attempt durations by stage and outcome')
        .record(seconds, { [METRIC_LABELS.stage]: this.ctx.info.activityType, [METRIC_LABELS.outcome]: outcome });
    }
  }
}

/** The factory for WorkerOptions.interceptors.activity. */
export function stageMetricsInterceptors(ctx: Context): ActivityInterceptors {
  return { inbound: new StageMetricsInterceptor(ctx) };
}
