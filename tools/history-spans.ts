/**
 * Where an export's time went, from its workflow history: each activity's wait in its queue
 * (scheduled → started) and its own work (started → completed). Shared by the hand-run tools.
 */
import type { temporal } from '@temporalio/proto';

export interface ActivitySpan {
  activity: string;
  attempt: number;
  queuedMs: number;
  runMs: number;
}

export interface ExportTimeline {
  workflowId: string;
  wallMs: number;
  activityWorkMs: number;
  activityQueueMs: number;
  orchestrationMs: number;
  spans: ActivitySpan[];
}

function ms(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

export function exportTimeline(workflowId: string, events: temporal.api.history.v1.IHistoryEvent[]): ExportTimeline {
  const scheduled = new Map<string, { name: string; at: number }>();
  const started = new Map<string, { at: number; attempt: number }>();
  const spans: ActivitySpan[] = [];
  for (const e of events) {
    const id = String(e.eventId);
    const at = ms(e.eventTime);
    if (e.activityTaskScheduledEventAttributes)
      scheduled.set(id, { name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at });
    if (e.activityTaskStartedEventAttributes)
      started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), {
        at,
        attempt: e.activityTaskStartedEventAttributes.attempt ?? 1,
      });
    const done =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (done) {
      const s = scheduled.get(String(done.scheduledEventId));
      const st = started.get(String(done.scheduledEventId));
      if (s && st) spans.push({ activity: s.name, attempt: st.attempt, queuedMs: st.at - s.at, runMs: at - st.at });
      // Never started (a GPU benchmark no GPU worker picked up): all of it was waiting in the queue.
      else if (s) spans.push({ activity: `${s.name} (not started)`, attempt: 0, queuedMs: at - s.at, runMs: 0 });
    }
  }
  const wallMs = ms(events[events.length - 1]?.eventTime) - ms(events[0]?.eventTime);
  const workMs = spans.reduce((n, s) => n + s.runMs, 0);
  const queuedMs = spans.reduce((n, s) => n + s.queuedMs, 0);
  const summary = {
    workflowId,
    wallMs,
    activityWorkMs: workMs,
    activityQueueMs: queuedMs,
    orchestrationMs: wallMs - workMs - queuedMs,
    spans,
  };
  return summary;
}
