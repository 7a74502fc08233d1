/**
 * The Heimdall benchmark (issue 22, item 6), run by hand (not in CI): for HeimdallNet,
 * TriangulationModel and IQResNet18, from one training-service checkpoint each (made by
 * scripts/fixtures/make_heimdall_bundle.py, seed 3):
 *   - torch.onnx.export called as the training service calls it (tools/heimdall-benchmark-torch.py:
 *     opset 14, constant folding, dynamo=False, the service's dummies; IQResNet18 with a proper dummy,
 *     the service's own call fails on it), under each asked torch: the export call alone, the whole
 *     process (interpreter start and imports included) and its peak RSS (/usr/bin/time -v), medians
 *     of `--repeats`;
 *   - PyTorch eager latency at batch 1 and 32 (N = 7, L = 10000), each asked torch, `--threads` (default 2,
 *     the issue's; on a loaded machine torch 1.13's OpenMP threads wait on each other: 0.24 ms at one
 *     thread became 47 ms at two, load average 8 on 2 cores);
 *   - our side, for each model whose `architecture` models/architectures.ts lists: `onnx-export emit`
 *     (the emit call alone as it reports it, checkpoint read to bytes written, and the whole process,
 *     peak RSS; and the emit call in a warm process, as a long-lived worker runs it), then
 *     onnxruntime latency of our graph at the same sizes, interleaved with torch's graph where
 *     torch's graph is correct (TriangulationModel and IQResNet18 exported with symbolic
 *     batch, receivers and seq_len), alone otherwise; the rest say "not emitted yet".
 * Prints tables and writes JSON to <work>/heimdall-benchmark.json.
 *
 *   npm run build && npm run build:tools && node .state/tools-build/tools/heimdall-benchmark.js \
 *     [--work <dir>] [--models heimdall_net,triangulation_model,iq_resnet18] [--torch debian,torch2]
 *     [--weights pth|ckpt|safetensors] [--repeats 3] [--eager-budget 20] [--threads 2] [--no-eager] [--no-latency]
 *
 * It must not be imported by library code; it spawns Python (Debian's /usr/bin/python3 with torch 1.13,
 * the torch 2.x venv) and the built CLI.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { benchmarkModel, compareModels } from '../bench';
import type { BatchLatency } from '../bench';
import { findProjectRoot } from '../config/environment';
import { architectureNames } from '../models/architectures';
import { median } from '../bench/statistics';
import { measuredRuns } from './process-stats';

const run = promisify(execFile);
const ROOT = findProjectRoot();
const PYTHONS: Record<string, string> = {
  debian: '/usr/bin/python3',
  torch2: join(homedir(), '.cache', 'onnx-export-pipeline', 'torch2-venv', 'bin', 'python'),
};
const MODELS = ['heimdall_net', 'triangulation_model', 'iq_resnet18'] as const;
type Model = (typeof MODELS)[number];
/** The sizes: batch 1 and 32, N = 7 receivers, IQ length 10000; 2 threads (the machine's cores). */
const BATCHES = [1, 32];
const RECEIVERS = 7;
const IQ_LENGTH = 10_000;
const DEFAULT_THREADS = 2;
/** The service's call fails on IQResNet18 (it feeds the triangulation dummy): it gets a proper one. */
const EXPORT_CALL: Record<Model, 'service' | 'dynamic'> = {
  heimdall_net: 'service',
  triangulation_model: 'service',
  iq_resnet18: 'dynamic',
};
/** Models whose correct torch graph (symbolic batch, receivers, seq_len) exists to compare with. */
const TORCH_GRAPH_CORRECT: Record<Model, boolean> = {
  heimdall_net: false,
  triangulation_model: true,
  iq_resnet18: true,
};
const LATENCY = { timeBudgetMs: 60_000, maxRuns: 60, batchSizes: BATCHES };

const lastJson = <T>(stdout: string): T => JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as T;

async function makeBundle(model: Model, weights: string, work: string): Promise<{ dir: string; weightsFile: string }> {
  const dir = join(work, `${model}-${weights}`);
  if (!existsSync(join(dir, 'reference.safetensors'))) {
    process.stderr.write(`making the ${model} ${weights} bundle in ${dir}\n`);
    await run(PYTHONS.debian as string, [
      join(ROOT, 'scripts/fixtures/make_heimdall_bundle.py'),
      ...['--model', model, '--export', 'none', '--weights', weights, '--out', dir, '--seed', '3'],
    ]);
  }
  const weightsFile = (await readdir(dir)).find((f) => /^(model\.safetensors|.*\.(pth|pt|ckpt))$/.test(f));
  if (!weightsFile) throw new Error(`${dir}: no weights file`);
  return { dir, weightsFile: join(dir, weightsFile) };
}

interface TorchExport {
  torch: string;
  exportCallSeconds: number;
  importSeconds: number;
  processSeconds: number;
  peakRssMb: number;
  onnxBytes: number;
}

async function torchExport(python: string, model: Model, weights: string, out: string, repeats: number) {
  const script = join(ROOT, 'tools/heimdall-benchmark-torch.py');
  const args = [script, 'export', '--model', model, '--weights', weights, '--out', out, '--call', EXPORT_CALL[model]];
  const runs = await measuredRuns(repeats, out, python, args);
  const reports = runs.map((r) =>
    lastJson<{ torch: string; export_call_seconds: number; import_seconds: number; onnx_bytes: number }>(r.stdout),
  );
  return {
    torch: reports[0]?.torch ?? '',
    exportCallSeconds: median(reports.map((r) => r.export_call_seconds)),
    importSeconds: median(reports.map((r) => r.import_seconds)),
    processSeconds: median(runs.map((r) => r.wallSeconds)),
    peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
    onnxBytes: reports[0]?.onnx_bytes ?? 0,
  } satisfies TorchExport;
}

type EagerBatches = Record<string, { runs: number; min_ms: number; p50_ms: number; mean_ms: number }>;

async function torchEager(python: string, model: Model, weights: string, budgetSeconds: number, threads: number) {
  const script = join(ROOT, 'tools/heimdall-benchmark-torch.py');
  const { stdout } = await run(
    python,
    [
      script,
      'eager',
      ...['--model', model, '--weights', weights, '--batches', BATCHES.join(',')],
      ...['--receivers', String(RECEIVERS), '--length', String(IQ_LENGTH), '--threads', String(threads)],
      ...['--budget-seconds', String(budgetSeconds)],
    ],
    { maxBuffer: 1 << 24 },
  );
  return lastJson<{ torch: string; batches: EagerBatches }>(stdout);
}

async function oursEmit(bundleDir: string, out: string, repeats: number) {
  const args = [join(ROOT, 'bin/onnx-export.js'), 'emit', bundleDir, '-o', out, '--json'];
  const runs = await measuredRuns(repeats, out, process.execPath, args);
  const emitSeconds = runs.map((r) => (JSON.parse(r.stdout) as { seconds: number }).seconds);
  return {
    emitSeconds: median(emitSeconds),
    processSeconds: median(runs.map((r) => r.wallSeconds)),
    peakRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
  };
}

/** Emissions in one process: the first is the CLI's cold call, the rest a worker's steady state. */
const WARM_EMISSIONS = 7;

/**
 * The emit call in a warm process, as a worker runs it (one long-lived process emitting bundle after
 * bundle): the median of emissions 2..WARM_EMISSIONS of the same bundle in one process, each to its
 * own file. The first (cold: code not yet compiled, files not yet cached) is what `oursEmit` times.
 */
async function oursEmitWarm(bundleDir: string, out: string): Promise<number> {
  const script = `
    const { emitBundle } = require(${JSON.stringify(join(ROOT, 'dist/models/emit.js'))});
    (async () => {
      const seconds = [];
      for (let i = 0; i < ${WARM_EMISSIONS}; i++) seconds.push((await emitBundle(process.argv[1], process.argv[2] + '.' + i)).seconds);
      console.log(JSON.stringify(seconds));
    })();`;
  const { stdout } = await run(process.execPath, ['-e', script, bundleDir, out]);
  return median(lastJson<number[]>(stdout).slice(1));
}

const p50 = (b: BatchLatency | undefined) => b?.stats.p50 ?? Number.NaN;

interface LatencyRow {
  batch: number;
  oursMs: number;
  /** Only where torch's graph is correct (interleaved with ours). */
  torchGraphMs?: number;
  /** ours ÷ torch's graph: the median of the paired ratios. */
  ratio?: number;
}

/** onnxruntime latency of our graph, interleaved with torch's where that graph is correct. */
async function ortLatency(
  model: Model,
  ours: string,
  torchGraph: string | undefined,
  reference: string,
  threads: number,
): Promise<LatencyRow[]> {
  const dims: Record<string, number> = { receivers: RECEIVERS };
  if (model !== 'triangulation_model') dims.seq_len = IQ_LENGTH;
  const inputs = { dims, reference };
  if (torchGraph) {
    const report = await compareModels(
      { path: ours, label: 'ours' },
      { path: torchGraph, label: 'torch.onnx.export' },
      { ...LATENCY, threads, inputs },
    );
    return BATCHES.map((batch, i) => ({
      batch,
      oursMs: p50(report.candidate.batches[i]),
      torchGraphMs: p50(report.baseline.batches[i]),
      ratio: report.pairs[i]?.ratio.median ?? Number.NaN,
    }));
  }
  const report = await benchmarkModel({ path: ours, label: 'ours' }, { ...LATENCY, threads, inputs });
  return BATCHES.map((batch, i) => ({ batch, oursMs: p50(report.batches[i]) }));
}

interface Options {
  work: string;
  models: Model[];
  torches: string[];
  weights: string;
  repeats: number;
  eagerBudget: number;
  eager: boolean;
  latency: boolean;
  /** torch intra-op threads (eager) and onnxruntime intra-op threads. */
  threads: number;
}

async function benchModel(model: Model, o: Options) {
  const { dir, weightsFile } = await makeBundle(model, o.weights, o.work);
  const exports: TorchExport[] = [];
  const eager: { torch: string; batches: EagerBatches }[] = [];
  for (const torch of o.torches) {
    const python = PYTHONS[torch] as string;
    process.stderr.write(`${model}: torch.onnx.export (${torch}) ×${o.repeats}\n`);
    exports.push(await torchExport(python, model, weightsFile, join(o.work, `${model}-${torch}.onnx`), o.repeats));
    if (o.eager) {
      process.stderr.write(`${model}: eager (${torch})\n`);
      eager.push(await torchEager(python, model, weightsFile, o.eagerBudget, o.threads));
    }
  }
  const emitted = architectureNames().includes(model);
  if (!emitted) return { model, weights: o.weights, exports, eager, ours: 'not emitted yet' as const };

  const oursPath = join(o.work, `${model}-ours.onnx`);
  process.stderr.write(`${model}: onnx-export emit ×${o.repeats}\n`);
  const emit = { ...(await oursEmit(dir, oursPath, o.repeats)), warmEmitSeconds: await oursEmitWarm(dir, oursPath) };
  let latency: LatencyRow[] | undefined;
  if (o.latency) {
    let torchGraph: string | undefined;
    if (TORCH_GRAPH_CORRECT[model]) {
      torchGraph = join(o.work, `${model}-torch-dynamic.onnx`);
      await run(PYTHONS.debian as string, [
        join(ROOT, 'tools/heimdall-benchmark-torch.py'),
        ...['export', '--model', model, '--weights', weightsFile, '--out', torchGraph, '--call', 'dynamic'],
      ]);
    }
    process.stderr.write(`${model}: onnxruntime latency\n`);
    latency = await ortLatency(model, oursPath, torchGraph, join(dir, 'reference.safetensors'), o.threads);
  }
  return { model, weights: o.weights, exports, eager, ours: { emit, latency } };
}

type ModelResult = Awaited<ReturnType<typeof benchModel>>;

function tables(results: readonly ModelResult[]): string {
  const f = (v: number | undefined, d = 2) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(d));
  const lines = [
    '| model | torch | export call | torch process (import) | peak RSS | ours: emit call / process / RSS | export call ÷ emit call | ours warm emit call | ÷ warm |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    for (const e of r.exports) {
      const ours =
        typeof r.ours === 'string'
          ? r.ours
          : `${f(r.ours.emit.emitSeconds, 3)} s / ${f(r.ours.emit.processSeconds)} s / ${f(r.ours.emit.peakRssMb, 0)} MB`;
      const speedup = typeof r.ours === 'string' ? '–' : `${f(e.exportCallSeconds / r.ours.emit.emitSeconds, 1)}×`;
      const warm = typeof r.ours === 'string' ? '–' : `${f(r.ours.emit.warmEmitSeconds, 3)} s`;
      const warmSpeedup =
        typeof r.ours === 'string' ? '–' : `${f(e.exportCallSeconds / r.ours.emit.warmEmitSeconds, 1)}×`;
      lines.push(
        `| ${r.model} (${EXPORT_CALL[r.model as Model]} call) | ${e.torch} | ${f(e.exportCallSeconds)} s | ${f(e.processSeconds)} s (${f(e.importSeconds)} s) | ${f(e.peakRssMb, 0)} MB | ${ours} | ${speedup} | ${warm} | ${warmSpeedup} |`,
      );
    }
  }
  lines.push(
    '',
    `| model | batch (N = ${RECEIVERS}, L = ${IQ_LENGTH}) | eager p50 per torch | torch graph (ort) p50 | ours (ort) p50 | ours ÷ torch graph | eager ÷ ours |`,
    '|---|---|---|---|---|---|---|',
  );
  for (const r of results) {
    for (const batch of BATCHES) {
      const eager = r.eager.map((e) => `${e.torch}: ${f(e.batches[String(batch)]?.p50_ms)} ms`).join(', ') || '–';
      const l = typeof r.ours === 'string' ? undefined : r.ours.latency?.find((x) => x.batch === batch);
      const fastestEager = Math.min(...r.eager.map((e) => e.batches[String(batch)]?.p50_ms ?? Infinity));
      lines.push(
        `| ${r.model} | ${batch} | ${eager} | ${f(l?.torchGraphMs)} | ${l ? f(l.oursMs) : typeof r.ours === 'string' ? r.ours : '–'} | ${f(l?.ratio, 3)} | ${l ? f(fastestEager / l.oursMs, 1) : '–'} |`,
      );
    }
  }
  return lines.join('\n');
}

function parseOptions(argv: readonly string[]): Options {
  const arg = (name: string, fallback: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] ? (argv[i + 1] as string) : fallback;
  };
  const models = arg('--models', MODELS.join(',')).split(',') as Model[];
  for (const m of models)
    if (!MODELS.includes(m)) throw new Error(`--models: unknown model ${m} (${MODELS.join(', ')})`);
  const torches = arg('--torch', 'debian,torch2').split(',');
  for (const t of torches) if (!PYTHONS[t]) throw new Error(`--torch: expected debian or torch2, got ${t}`);
  const weights = arg('--weights', 'pth');
  if (!['pth', 'ckpt', 'safetensors'].includes(weights)) throw new Error(`--weights: pth, ckpt or safetensors`);
  return {
    work: resolve(arg('--work', join(tmpdir(), 'onnx-export-heimdall-bench'))),
    models,
    torches,
    weights,
    repeats: Number(arg('--repeats', '3')),
    eagerBudget: Number(arg('--eager-budget', '20')),
    eager: !argv.includes('--no-eager'),
    latency: !argv.includes('--no-latency'),
    threads: Number(arg('--threads', String(DEFAULT_THREADS))),
  };
}

async function main(argv: readonly string[]): Promise<void> {
  const options = parseOptions(argv);
  await mkdir(options.work, { recursive: true });
  const loadStart = loadavg()[0];
  const results: ModelResult[] = [];
  for (const model of options.models) results.push(await benchModel(model, options));
  const out = join(options.work, 'heimdall-benchmark.json');
  const loadAverage: number[] = [loadStart ?? Number.NaN, loadavg()[0] ?? Number.NaN];
  const meta = { threads: options.threads, receivers: RECEIVERS, iqLength: IQ_LENGTH, loadAverage };
  await writeFile(out, `${JSON.stringify({ ...meta, results }, null, 2)}\n`);
  process.stdout.write(
    `${tables(results)}\n\nload average ${loadAverage.map((l) => l.toFixed(2)).join(' → ')}\nJSON: ${out}\n`,
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`heimdall-benchmark: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
