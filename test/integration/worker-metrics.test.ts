/**
 * The worker's metrics and logs, from the outside: a real `node bin/onnx-export.js worker` process
 * (dist/ must be built) with ONNX_EXPORT_METRICS_ADDRESS on a free port runs one real export against
 * the stack; `/metrics` is scraped while it runs (the SDK's own metrics) and after (the pipeline's:
 * the export's outcome, stage durations, the staged ONNX's bytes, the skipped GPU benchmark, since
 * no host here serves the GPU queue). Its stdout is a pipe, not a terminal, so every line is JSON.
 * A second worker process without the variable listens on no port at all: metrics are off by default.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import { startPromotion } from '../../client/promote-starter';
import { TASK_QUEUES } from '../../common/constants';
import { EXPORT_WORKFLOW_TYPE } from '../../common/export-contract';
import {
  EXPORT_OUTCOMES,
  GPU_SKIP_REASONS,
  METRICS,
  PROMOTION_OUTCOMES,
  STAGE_DURATION_BUCKETS_SECONDS,
} from '../../common/metrics';
import type { PipelineConfig } from '../../config/environment';
import { connectClient } from '../../temporal/connect';
import type { ExportResult } from '../../workflows/export-model';
import { freePorts, sleep, waitFor } from './support/fault-injection';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { requireStack, uniqueName } from './support/stack';

const QUICK_BENCHMARK = { batchSizes: [1], maxRuns: 10, timeBudgetMs: 500, gpuScheduleToStartTimeout: '5 seconds' };

interface WorkerProc {
  child: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  stop(): Promise<void>;
}

/** A worker process with stdout and stderr kept apart (startWorkerProcess merges them). */
async function startWorker(extraEnv: Record<string, string>): Promise<WorkerProc> {
  const workDir = mkdtempSync(join(tmpdir(), 'onnx-export-metrics-'));
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, ONNX_EXPORT_WORK_DIR: workDir };
  if (!('ONNX_EXPORT_METRICS_ADDRESS' in extraEnv)) delete env.ONNX_EXPORT_METRICS_ADDRESS;
  const child = spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'onnx-export.js'), 'worker'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  if (child.pid === undefined) throw new Error('worker did not start');
  const proc: WorkerProc = {
    child,
    pid: child.pid,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(workDir, { recursive: true, force: true });
    },
  };
  await Promise.race([
    waitFor('the worker to poll', async () => (out.includes('worker polling') ? true : undefined), 120_000, 100),
    exited.then(() => {
      throw new Error(`worker exited before polling:\n${out}\n${err}`);
    }),
  ]);
  return proc;
}

/** The TCP ports a process listens on: its socket inodes matched against /proc/net/tcp{,6} LISTEN rows. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1] as string);
    } catch {
      /* closed meanwhile */
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      // cols: sl, local_address, rem_address, st, …, inode (10th)
      if (cols[3] === '0A' && inodes.has(cols[9] as string))
        ports.push(parseInt((cols[1] as string).split(':')[1] as string, 16));
    }
  }
  return ports.sort();
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseScrape(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

function sum(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

describe('worker metrics and JSON-lines logs', () => {
  let config: PipelineConfig;
  let client: Client;
  let worker: WorkerProc;
  let metricsUrl: string;
  let exported: ExportResult;
  const port = Number(freePorts(['METRICS'])['METRICS']);

  beforeAll(async () => {
    config = await requireStack();
    client = await connectClient(config);
    worker = await startWorker({ ONNX_EXPORT_METRICS_ADDRESS: `127.0.0.1:${port}` });
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
  });

  afterAll(async () => {
    await worker?.stop();
    await client?.connection.close();
  });

  async function scrape(): Promise<Sample[]> {
    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    return parseScrape(await res.text());
  }

  it('serves the SDK metrics during an export and the pipeline metrics after it', async () => {
    expect(listeningPorts(worker.pid)).toEqual([port]);
    // A seed of its own: a new ONNX, so the staging upload really sends its bytes.
    const bundle = await makeBundle({ ...SMALL_CONVNEXT, seed: 1000 + Math.floor(Math.random() * 1e6) });
    const checkpointUri = (await uploadBundle(config, bundle)).uri;
    const { handle } = await startExport(client, {
      checkpointUri,
      modelName: uniqueName('metrics'),
      runId: uniqueName('run'),
      benchmark: QUICK_BENCHMARK,
    });

    const during: Sample[][] = [];
    const result = (await Promise.all([
      handle.result(),
      (async () => {
        // Scrapes while the export runs (stops once it has a few).
        while (during.length < 3) {
          during.push(await scrape());
          await sleep(300);
        }
      })(),
    ]).then(([r]) => r)) as ExportResult;
    exported = result;
    const live = during[0] as Sample[];
    expect(sum(live, 'temporal_worker_task_slots_available', { task_queue: 'onnx-export' })).toBeGreaterThan(0);
    expect(live.some((s) => s.name === 'temporal_num_pollers')).toBe(true);

    // The pipeline's metrics are recorded as the workflow and activities finish; a scrape shortly after sees them.
    const after = await waitFor(
      'the export counted on /metrics',
      async () => {
        const s = await scrape();
        return sum(s, METRICS.exports, { outcome: EXPORT_OUTCOMES.published }) >= 1 ? s : undefined;
      },
      30_000,
      300,
    );
    const pipelineLines = (await (await fetch(metricsUrl)).text())
      .split('\n')
      .filter((l) => l.startsWith('onnx_export_') && (!l.includes('_bucket{') || l.includes('stage="emitGraph"')));
    console.log(`pipeline metrics after one export:\n${pipelineLines.join('\n')}`);

    // At least: this worker polls the default queues, which another test's leftover export could reach too.
    expect(
      sum(after, METRICS.exports, { outcome: EXPORT_OUTCOMES.published, workflowType: 'exportModel' }),
    ).toBeGreaterThanOrEqual(1);
    for (const stage of [
      'emitGraph',
      'validateStructure',
      'checkParity',
      'benchmarkLatency',
      'publishModel',
      'registerModel',
    ]) {
      expect(
        sum(after, `${METRICS.stageDuration}_count`, { stage, outcome: 'completed' }),
        stage,
      ).toBeGreaterThanOrEqual(1);
      expect(sum(after, `${METRICS.stageDuration}_sum`, { stage }), stage).toBeGreaterThan(0);
    }
    // Seconds-sized buckets (common/metrics.ts), not the SDK's millisecond defaults.
    const buckets = after.filter((s) => s.name === `${METRICS.stageDuration}_bucket` && s.labels.stage === 'emitGraph');
    expect(buckets.map((b) => b.labels.le)).toEqual([...STAGE_DURATION_BUCKETS_SECONDS.map(String), '+Inf']);
    // The staged ONNX was new, so its staging upload sent the whole file: exactly the published model's size.
    expect(result.emission.upload.method).not.toBe('existing');
    expect(result.emission.upload.bytesSent).toBe(result.onnx.bytes);
    const emits = sum(after, `${METRICS.stageDuration}_count`, { stage: 'emitGraph' });
    if (emits === 1) expect(sum(after, METRICS.uploadedBytes)).toBe(result.onnx.bytes);
    else expect(sum(after, METRICS.uploadedBytes)).toBeGreaterThanOrEqual(result.onnx.bytes);
    expect(result.published.bytes).toBe(result.onnx.bytes);

    // No host here serves the GPU queue: the benchmark stage skipped the GPU benchmark and counted it.
    expect(result.latency.gpu.status).toBe('skipped');
    const skipped = sum(after, METRICS.gpuBenchmarksSkipped);
    expect(skipped).toBeGreaterThanOrEqual(1);
    const reason = /DescribeTaskQueue/.test((result.latency.gpu as { reason: string }).reason)
      ? GPU_SKIP_REASONS.noGpuWorker
      : GPU_SKIP_REASONS.scheduleToStart;
    expect(sum(after, METRICS.gpuBenchmarksSkipped, { reason })).toBeGreaterThanOrEqual(1);
  });

  it('counts promotions and refused or invalid requests by outcome', async () => {
    const version = exported.registry.version;
    const promote = async (gates?: { maxMae: number }) =>
      (
        await startPromotion(client, {
          modelName: exported.modelName,
          version,
          alias: 'champion',
          ...(gates ? { gates } : {}),
        })
      ).handle
        .result()
        .then(
          () => 'ok',
          () => 'failed',
        );
    expect(await promote()).toBe('ok');
    expect(await promote()).toBe('ok');
    expect(await promote({ maxMae: 1e-30 })).toBe('failed');
    const bad = await client.workflow.start(EXPORT_WORKFLOW_TYPE, {
      taskQueue: TASK_QUEUES.export,
      workflowId: uniqueName('metrics-bad'),
      args: [{ checkpointUri: 42 }],
    });
    await expect(bad.result()).rejects.toThrow();

    const after = await waitFor(
      'the promotions and the invalid export counted on /metrics',
      async () => {
        const s = await scrape();
        return sum(s, METRICS.promotions) >= 3 &&
          sum(s, METRICS.exports, { outcome: EXPORT_OUTCOMES.invalidRequest }) >= 1
          ? s
          : undefined;
      },
      30_000,
      300,
    );
    expect(sum(after, METRICS.promotions, { outcome: PROMOTION_OUTCOMES.promoted })).toBe(1);
    expect(sum(after, METRICS.promotions, { outcome: PROMOTION_OUTCOMES.already })).toBe(1);
    expect(sum(after, METRICS.promotions, { outcome: PROMOTION_OUTCOMES.refused })).toBe(1);
    expect(sum(after, METRICS.exports, { outcome: EXPORT_OUTCOMES.invalidRequest })).toBe(1);
    expect(sum(after, METRICS.exports, { outcome: EXPORT_OUTCOMES.published })).toBeGreaterThanOrEqual(1);
  });

  it("writes its stdout as JSON lines (it is not a terminal), the 'worker polling' line among them", () => {
    const lines = worker.stdout().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(3);
    const records = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
    for (const r of records) {
      expect(typeof r.time).toBe('string');
      expect(new Date(r.time as string).toISOString()).toBe(r.time);
      expect(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).toContain(r.level);
      expect(typeof r.message).toBe('string');
    }
    expect(records.some((r) => (r.message as string).startsWith('worker polling '))).toBe(true);
    expect(worker.stdout()).not.toContain(config.s3.secretKey);
    expect(worker.stderr()).toBe('');
  });

  it('listens on no port when ONNX_EXPORT_METRICS_ADDRESS is unset (metrics are off by default)', async () => {
    const plain = await startWorker({});
    try {
      expect(listeningPorts(plain.pid)).toEqual([]);
      expect(plain.stdout()).toContain('"message":"metrics off"');
    } finally {
      await plain.stop();
    }
  });
});
