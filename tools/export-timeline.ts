/**
 * Where an export's time went, from its workflow history: for each activity, the wait in the queue
 * (scheduled → started) and its own work (started → completed), against the workflow's wall time.
 * The rest is orchestration (workflow tasks, timers, the server). Run by hand:
 *   npm run build:tools && node .state/tools-build/tools/export-timeline.js <workflow-id> [--json]
 */
import { loadConfig } from '../config/environment';
import { connectClient } from '../temporal/connect';
import { exportTimeline } from './history-spans';

async function main(): Promise<void> {
  const [workflowId, flag] = process.argv.slice(2);
  if (!workflowId) throw new Error('usage: export-timeline <workflow-id> [--json]');
  const client = await connectClient(loadConfig());
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  await client.connection.close();
  const summary = exportTimeline(workflowId, history.events ?? []);
  const { spans, wallMs, activityWorkMs: workMs, activityQueueMs: queuedMs } = summary;
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
