/**
 * By-hand load test (not a timed test, not run in CI): N concurrent exports (default 20) of a small
 * ConvNeXt LocalizationNet on ONE worker host, a separate `node bin/onnx-export.js worker` process
 * whose peak RSS (VmHWM in /proc/<pid>/status) is sampled. Reports completions, failures, wall time,
 * per-export durations, the worker's peak RSS, and which worker identities ran the exports'
 * activity and workflow tasks (another worker polling the same queues would share the load; the report says so).
 *
 *   npm run build && npm run build:tools && node .state/tools-build/tools/load-test.js [--exports 20] [--timeout-min 30] [--json]
 *
 * Uses the stack the environment names (else `.state/stack.env`, the local stack). Every export uses
 * its own run id under one model name, so the registry sees N concurrent versions of one model.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { uploadBundle } from '../client/bundle-upload';
import { startExport } from '../client/export-starter';
import { connectClient } from '../temporal/connect';
import { TASK_QUEUES } from '../common/constants';
import type { ExportRequest } from '../common/export-request';
import { findProjectRoot, loadConfig } from '../config/environment';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Args {
  exports: number;
  timeoutMin: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { exports: 20, timeoutMin: 30, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--exports') args.exports = Number(argv[++i]);
    else if (a === '--timeout-min') args.timeoutMin = Number(argv[++i]);
    else if (a === '--json') args.json = true;
    else throw new Error(`unknown argument ${a} (use --exports N, --timeout-min M, --json)`);
  }
  if (!Number.isInteger(args.exports) || args.exports < 1) throw new Error('--exports: a positive integer');
  if (!(args.timeoutMin > 0)) throw new Error('--timeout-min: a positive number');
  return args;
}

/** VmHWM / VmRSS of a process in bytes, or undefined once it is gone. */
function memoryOf(pid: number): { hwm: number; rss: number } | undefined {
  const path = `/proc/${pid}/status`;
  if (!existsSync(path)) return undefined;
  try {
    const text = readFileSync(path, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return undefined;
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = findProjectRoot();
  const config = loadConfig();
  const say = (line: string) => {
    if (!args.json) process.stderr.write(`${line}\n`);
  };

  // 1. One small ConvNeXt bundle, written by PyTorch through the fixture script, uploaded once.
  const bundleDir = mkdtempSync(join(tmpdir(), 'onnx-export-load-bundle-'));
  const workDir = mkdtempSync(join(tmpdir(), 'onnx-export-load-worker-'));
  await run(
    '/usr/bin/python3',
    [
      join(root, 'scripts', 'fixtures', 'make_localizationnet.py'),
      '--out',
      bundleDir,
      '--backbone',
      'convnext',
      '--depths',
      '1,1,2,1',
      '--dims',
      '8,16,24,32',
      '--seed',
      '7',
      '--samples',
      '8',
    ],
    { timeout: 300_000 },
  );
  const checkpointUri = (await uploadBundle(config, bundleDir)).uri;
  say(`bundle ${checkpointUri}`);

  // 2. One worker host, its own process and work folder.
  const worker = spawn(process.execPath, [join(root, 'bin', 'onnx-export.js'), 'worker'], {
    cwd: root,
    env: { ...process.env, ONNX_EXPORT_WORK_DIR: workDir },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let workerOut = '';
  worker.stdout?.on('data', (d: Buffer) => {
    workerOut = (workerOut + d.toString()).slice(-20_000);
  });
  worker.stderr?.on('data', (d: Buffer) => {
    workerOut = (workerOut + d.toString()).slice(-20_000);
  });
  const pid = worker.pid;
  if (pid === undefined) throw new Error('worker did not start');
  const stopWorker = async () => {
    if (worker.exitCode !== null || worker.signalCode !== null) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 100 && worker.exitCode === null && worker.signalCode === null; i++) await sleep(100);
    if (worker.exitCode === null && worker.signalCode === null) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  const client = await connectClient(config);
  let peak = { hwm: 0, rss: 0 };
  const sampler = setInterval(() => {
    const m = memoryOf(pid);
    if (m) peak = { hwm: Math.max(peak.hwm, m.hwm), rss: Math.max(peak.rss, m.rss) };
  }, 250);
  try {
    for (let i = 0; !workerOut.includes('worker polling'); i++) {
      if (i > 1200 || worker.exitCode !== null) throw new Error(`worker did not start polling:\n${workerOut}`);
      await sleep(100);
    }
    const idle = memoryOf(pid);
    say(`worker pid ${pid} polling; RSS ${idle ? mib(idle.rss) : '?'}`);

    // Who else polls these queues (another worker would take part of the load).
    const pollers = new Set<string>();
    for (const queue of [TASK_QUEUES.export, TASK_QUEUES.bench]) {
      for (const taskQueueType of [1, 2]) {
        const r = await client.workflowService.describeTaskQueue({
          namespace: config.temporal.namespace,
          taskQueue: { name: queue },
          taskQueueType,
        });
        for (const p of r.pollers ?? []) if (p.identity) pollers.add(p.identity);
      }
    }

    // 3. N exports at once.
    const stamp = Date.now().toString(36);
    const modelName = `load-test-${stamp}`;
    const started = Date.now();
    const deadline = started + args.timeoutMin * 60_000;
    const outcomes = await Promise.all(
      Array.from({ length: args.exports }, async (_, i) => {
        const request: ExportRequest = {
          checkpointUri,
          modelName,
          runId: `load-${stamp}-${i}`,
          benchmark: { gpu: false, batchSizes: [1], maxRuns: 10, timeBudgetMs: 500 },
        };
        const t0 = Date.now();
        try {
          const { handle } = await startExport(client, request);
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('timed out')), deadline - Date.now());
          });
          const result = await Promise.race([handle.result(), timeout]).finally(() => clearTimeout(timer));
          const history = await handle.fetchHistory();
          const identities = (history.events ?? []).flatMap((e) => {
            const id = e.activityTaskStartedEventAttributes?.identity ?? e.workflowTaskStartedEventAttributes?.identity;
            return id ? [id] : [];
          });
          say(
            `  ${request.runId}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s, version ${result.registry.version}`,
          );
          return { ok: true as const, seconds: (Date.now() - t0) / 1000, version: result.registry.version, identities };
        } catch (err) {
          const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
          const message =
            err instanceof WorkflowFailedError
              ? `${err.message}: ${cause?.message ?? ''} ${cause?.cause instanceof Error ? cause.cause.message : ''}`
              : String(err);
          say(`  ${request.runId}: FAILED ${message}`);
          return { ok: false as const, seconds: (Date.now() - t0) / 1000, error: message };
        }
      }),
    );
    const wallSeconds = (Date.now() - started) / 1000;
    const last = memoryOf(pid);
    if (last) peak = { hwm: Math.max(peak.hwm, last.hwm), rss: Math.max(peak.rss, last.rss) };

    const done = outcomes.filter((o) => o.ok);
    const failed = outcomes.filter((o) => !o.ok);
    const seconds = done.map((o) => o.seconds).sort((a, b) => a - b);
    const byIdentity: Record<string, number> = {};
    for (const o of done) for (const id of o.identities) byIdentity[id] = (byIdentity[id] ?? 0) + 1;
    const ours = `${pid}@`;
    const report = {
      exports: args.exports,
      completed: done.length,
      failed: failed.length,
      failures: failed.map((f) => f.error),
      wallSeconds,
      perExportSeconds: {
        min: seconds[0],
        p50: seconds[Math.floor(seconds.length / 2)],
        max: seconds[seconds.length - 1],
      },
      distinctVersions: new Set(done.map((o) => o.version)).size,
      worker: { pid, peakRssBytes: peak.hwm, peakRss: mib(peak.hwm), idleRss: idle ? mib(idle.rss) : undefined },
      tasksByWorker: byIdentity,
      tasksOnThisWorker: Object.entries(byIdentity)
        .filter(([id]) => id.startsWith(ours))
        .reduce((n, [, c]) => n + c, 0),
      otherRecentPollers: [...pollers].filter((p) => !p.startsWith(ours)),
      modelName,
      temporal: config.temporal.address,
    };
    if (args.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      say(
        `\n${report.completed}/${report.exports} completed, ${report.failed} failed, wall ${wallSeconds.toFixed(1)} s ` +
          `(per export p50 ${report.perExportSeconds.p50?.toFixed(1)} s, max ${report.perExportSeconds.max?.toFixed(1)} s); ` +
          `worker peak RSS ${report.worker.peakRss} (idle ${report.worker.idleRss}); ${report.distinctVersions} registry versions of ${modelName}`,
      );
      say(
        `activity and workflow tasks on this worker: ${report.tasksOnThisWorker}; by worker: ${JSON.stringify(byIdentity)}`,
      );
      if (report.otherRecentPollers.length)
        say(
          `note: the server saw other pollers on these queues in the last minutes (they may be gone; the line above says who ran the tasks): ${report.otherRecentPollers.join(', ')}`,
        );
    }
    process.exitCode = failed.length > 0 ? 1 : 0;
  } finally {
    clearInterval(sampler);
    await stopWorker();
    await client.connection.close();
    rmSync(bundleDir, { recursive: true, force: true });
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`load-test: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
