/**
 * Where an export's time went, from its workflow history: for each activity, the wait in the queue
 * (scheduled → started) and its own work (started → completed), against the workflow's wall time.
 * The rest is orchestration (workflow tasks, timers, the server). Run by hand:
 *   npm run build:tools && node .state/tools-build/tools/export-timeline.js <workflow-id> [--json]
 */
import { loadConfig } from '../config/environment';
import { connectClient } from '../temporal/connect';

interface ActivitySpan {
  activity: string;
  attempt: number;
  queuedMs: number;
  runMs: number;
}

function ms(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return 0;
  return Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6;
}

async function main(): Promise<void> {
  const [workflowId, flag] = process.argv.slice(2);
  if (!workflowId) throw new Error('usage: export-timeline <workflow-id> [--json]');
  const client = await connectClient(loadConfig());
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  await client.connection.close();
  const events = history.events ?? [];
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
  if (flag === '--json') {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  for (const s of spans)
    process.stdout.write(
      `${s.activity.padEnd(22)} attempt ${s.attempt}  queued ${s.queuedMs.toFixed(0).padStart(6)} ms  ran ${s.runMs.toFixed(0).padStart(7)} ms\n`,
    );
  process.stdout.write(
    `wall ${wallMs.toFixed(0)} ms = activities ${workMs.toFixed(0)} ms + queue waits ${queuedMs.toFixed(0)} ms + orchestration ${(wallMs - workMs - queuedMs).toFixed(0)} ms\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
