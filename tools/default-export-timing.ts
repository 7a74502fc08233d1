/**
 * How long a default export takes, as a user runs it: `onnx-export run <bundle> --wait --json`, timed
 * from the command to its result (bundle upload included), then split stage by stage from the
 * workflow's history, with the CPU benchmark's p50s and whether repeated runs agree on them.
 * Run by hand against a stack with a worker (`npx onnx-export stack up --with-worker`), one bundle
 * per run so none reuses another's uploads (make them with scripts/fixtures/make_localizationnet.py
 * --backbone convnext_tiny --seed N):
 *   npm run build:tools && node .state/tools-build/tools/default-export-timing.js <bundle>... [--json]
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../config/environment';
import { connectClient } from '../temporal/connect';
import type { ExportResult } from '../workflows/export-model';
import { exportTimeline, type ExportTimeline } from './history-spans';

interface TimedRun {
  bundle: string;
  wallMs: number;
  /** From the command to the workflow's start: the CLI's start-up and the bundle's upload. */
  beforeWorkflowMs: number;
  timeline: ExportTimeline;
  p50s: { batchSize: number; p50: number; ci95: readonly [number, number]; runs: number; stoppedBy?: string }[];
}

async function timeOne(bundle: string, index: number): Promise<TimedRun> {
  const cli = join(__dirname, '..', '..', '..', 'bin', 'onnx-export.js');
  const runId = `timing-${Date.now().toString(36)}-${index}`;
  const started = Date.now();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [cli, 'run', bundle, '--wait', '--json', '--run-id', runId],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const wallMs = Date.now() - started;
  const result = JSON.parse(stdout.slice(stdout.search(/^\{/m))) as ExportResult;
  const client = await connectClient(loadConfig());
  try {
    const handle = client.workflow.getHandle(result.workflowId);
    const history = await handle.fetchHistory();
    const startMs = (await handle.describe()).startTime.getTime();
    return {
      bundle,
      wallMs,
      beforeWorkflowMs: startMs - started,
      timeline: exportTimeline(result.workflowId, history.events ?? []),
      p50s: result.latency.cpu.batches.map((b) => ({
        batchSize: b.batchSize,
        p50: b.stats.p50,
        ci95: b.stats.p50Ci95,
        runs: b.stats.count,
        ...(b.stoppedBy ? { stoppedBy: b.stoppedBy } : {}),
      })),
    };
  } finally {
    await client.connection.close();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const bundles = args.filter((a) => a !== '--json');
  if (bundles.length === 0) throw new Error('usage: default-export-timing <bundle>... [--json]');
  const runs: TimedRun[] = [];
  // One after the other: two exports at once would share the cores and time each other.
  for (const [i, bundle] of bundles.entries()) runs.push(await timeOne(bundle, i));
  const agreement = (runs[0]?.p50s ?? []).map((first, i) => {
    const all = runs.map((r) => r.p50s[i]?.p50 ?? Number.NaN);
    const mean = all.reduce((s, v) => s + v, 0) / all.length;
    return {
      batchSize: first.batchSize,
      p50s: all,
      maxDeviation: Math.max(...all.map((v) => Math.abs(v - mean) / mean)),
    };
  });
  if (json) {
    process.stdout.write(`${JSON.stringify({ runs, agreement }, null, 2)}\n`);
    return;
  }
  for (const r of runs) {
    process.stdout.write(`\n${r.bundle}: ${(r.wallMs / 1000).toFixed(1)} s wall (command to result)\n`);
    process.stdout.write(
      `  ${'CLI start + bundle upload'.padEnd(26)} ${(r.beforeWorkflowMs / 1000).toFixed(1).padStart(6)} s\n`,
    );
    for (const s of r.timeline.spans)
      process.stdout.write(
        `  ${s.activity.padEnd(26)} ${(s.runMs / 1000).toFixed(1).padStart(6)} s  (queued ${s.queuedMs.toFixed(0)} ms)\n`,
      );
    const rest = r.wallMs - r.beforeWorkflowMs - r.timeline.activityWorkMs - r.timeline.activityQueueMs;
    process.stdout.write(`  ${'orchestration + CLI result'.padEnd(26)} ${(rest / 1000).toFixed(1).padStart(6)} s\n`);
    for (const p of r.p50s)
      process.stdout.write(
        `  batch ${String(p.batchSize).padStart(2)}: p50 ${p.p50.toFixed(2)} ms [${p.ci95[0].toFixed(2)}–${p.ci95[1].toFixed(2)}], ${p.runs} runs, stopped by ${p.stoppedBy ?? '?'}\n`,
      );
  }
  if (runs.length > 1)
    for (const a of agreement)
      process.stdout.write(
        `batch ${a.batchSize}: p50s ${a.p50s.map((v) => v.toFixed(2)).join(', ')} ms; largest deviation from their mean ${(a.maxDeviation * 100).toFixed(1)}%\n`,
      );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
