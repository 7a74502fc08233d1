/**
 * Emission benchmark, run by hand (not in CI): for convnext_tiny and convnext_large, our emitter
 * against torch.onnx.export (opset 17, the same weights), each in its own child process under
 * /usr/bin/time -v (wall time, peak RSS; several runs, medians); then onnxruntime-node latency of both graphs at batch 1
 * and 32 with 2 threads, interleaved (A B, B A, ...), as a ratio with its spread; node counts.
 * Prints a table and writes JSON.
 *
 *   npm run build && npm run build:tools && node .state/tools-build/tools/emission-benchmark.js [--work <dir>] [--presets convnext_tiny,convnext_large]
 *
 * It must not be imported by library code; it spawns Python (/usr/bin/python3 with torch).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { findProjectRoot } from '../config/environment';
import { readModel } from '../onnx/serialize-read';
import { compareModels } from '../bench/latency-benchmark';
import { median } from '../bench/statistics';
import { measuredRuns, type ProcessStats } from './process-stats';

const run = promisify(execFile);
const ROOT = findProjectRoot();
const PYTHON = '/usr/bin/python3';
/** Threads per onnxruntime session: the setting (the machine has 2 cores). */
const THREADS = 2;
const BATCHES = [1, 32];
/** Per batch size: up to 80 interleaved pairs within 100 s (convnext_large at batch 32 gets ~40). */
const LATENCY_MAX_PAIRS = 80;
const LATENCY_BUDGET_MS = 100_000;
const OPSET = 17;

/** Emissions per tool; the medians are reported (a single run swings ±20% with page-cache writeback). */
const REPEATS = { ours: 5, torch: 3 } as const;

/**
 * onnxruntime latency of both graphs, interleaved by the library's compareModels (alternating order,
 * intra-op spinning off: the controls bench/MEASUREMENTS.md shows are needed for an unbiased ratio).
 */
async function latency(ours: string, torch: string) {
  const report = await compareModels(
    { path: ours, label: 'ours' },
    { path: torch, label: 'torch.onnx.export' },
    {
      batchSizes: BATCHES,
      threads: THREADS,
      timeBudgetMs: LATENCY_BUDGET_MS,
      maxRuns: LATENCY_MAX_PAIRS,
    },
  );
  return report.pairs.map((pair, i) => ({
    batch: pair.batchSize,
    ours: report.candidate.batches[i]?.stats,
    torch: report.baseline.batches[i]?.stats,
    ratio: pair.ratio,
  }));
}

async function benchPreset(preset: string, work: string) {
  const dir = join(work, preset);
  if (!existsSync(join(dir, 'model.safetensors'))) {
    process.stderr.write(`making ${preset} bundle in ${dir}\n`);
    await run(
      PYTHON,
      [join(ROOT, 'scripts/fixtures/make_localizationnet.py'), '--out', dir, '--backbone', preset, '-n', '8'],
      { maxBuffer: 1 << 24 },
    );
  }
  const modelBytes = (await stat(join(dir, 'model.safetensors'))).size;
  const oursPath = join(dir, 'ours.onnx');
  const torchPath = join(dir, 'torch.onnx');
  process.stderr.write(`${preset}: torch.onnx.export ×${REPEATS.torch}\n`);
  const torchRuns = await measuredRuns(REPEATS.torch, torchPath, PYTHON, [
    join(ROOT, 'tools/emission-benchmark-torch.py'),
    dir,
    torchPath,
    '--opset',
    String(OPSET),
  ]);
  const exportCall = (r: ProcessStats) =>
    (JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { export_seconds?: number }).export_seconds ?? Number.NaN;
  process.stderr.write(`${preset}: our emitter ×${REPEATS.ours}\n`);
  const oursRuns = await measuredRuns(REPEATS.ours, oursPath, process.execPath, [
    join(ROOT, 'bin/onnx-export.js'),
    'emit',
    dir,
    '-o',
    oursPath,
    '--opset',
    String(OPSET),
    '--json',
  ]);
  const emitCall = (r: ProcessStats) => (JSON.parse(r.stdout) as { seconds: number }).seconds;
  // The floor for any emitter that writes a self-contained file: copying the checkpoint's bytes (cp).
  const copyPath = join(dir, 'copy.bin');
  const copyRuns = await measuredRuns(REPEATS.torch, copyPath, 'cp', [join(dir, 'model.safetensors'), copyPath]);
  await rm(copyPath, { force: true });
  const ours = {
    processSeconds: median(oursRuns.map((r) => r.wallSeconds)),
    emitSeconds: median(oursRuns.map(emitCall)),
    peakRssMb: Math.max(...oursRuns.map((r) => r.peakRssMb)),
    runs: oursRuns.map((r) => ({ processSeconds: r.wallSeconds, emitSeconds: emitCall(r) })),
  };
  const torch = {
    processSeconds: median(torchRuns.map((r) => r.wallSeconds)),
    exportSeconds: median(torchRuns.map(exportCall)),
    peakRssMb: Math.max(...torchRuns.map((r) => r.peakRssMb)),
    runs: torchRuns.map((r) => ({ processSeconds: r.wallSeconds, exportSeconds: exportCall(r) })),
  };
  const [oursModel, torchModel] = await Promise.all([readModel(oursPath), readModel(torchPath)]);
  process.stderr.write(`${preset}: onnxruntime latency\n`);
  const latencies = await latency(oursPath, torchPath);
  return {
    preset,
    modelMb: modelBytes / 2 ** 20,
    emission: {
      ours,
      torch,
      copyCheckpointSeconds: median(copyRuns.map((r) => r.wallSeconds)),
      /**
       * Like for like: bundle on disk → .onnx on disk, each tool's whole process (for torch: import,
       * build the model, load the state_dict, export; for us: startup, checks, emit, both hashes).
       */
      speedupProcess: torch.processSeconds / ours.processSeconds,
      /** torch's export call alone (model already built and loaded) against our whole process. */
      speedupVsExportCall: torch.exportSeconds / ours.processSeconds,
      oursPeakRssOverModel: ours.peakRssMb / (modelBytes / 2 ** 20),
    },
    nodes: { ours: oursModel.graph.nodes.length, torch: torchModel.graph.nodes.length },
    latency: latencies,
  };
}

type PresetResult = Awaited<ReturnType<typeof benchPreset>>;

function table(results: readonly PresetResult[]): string {
  const f = (v: number, d = 2) => v.toFixed(d);
  const lines = [
    `| model | ours: process / emit (median of ${REPEATS.ours}) | torch: process / export call (median of ${REPEATS.torch}) | speedup process ÷ process | torch export call ÷ our process | peak RSS ours / torch (MB) | ours RSS / model | nodes ours / torch | cp of the checkpoint |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const e = r.emission;
    lines.push(
      `| ${r.preset} (${f(r.modelMb, 0)} MB) | ${f(e.ours.processSeconds)} s / ${f(e.ours.emitSeconds)} s | ${f(e.torch.processSeconds)} s / ${f(e.torch.exportSeconds)} s | ${f(e.speedupProcess, 1)}× | ${f(e.speedupVsExportCall, 1)}× | ${f(e.ours.peakRssMb, 0)} / ${f(e.torch.peakRssMb, 0)} | ${f(e.oursPeakRssOverModel)} | ${r.nodes.ours} / ${r.nodes.torch} | ${f(e.copyCheckpointSeconds)} s |`,
    );
  }
  lines.push(
    '',
    '| model | batch | ours p50 (ms) | torch p50 (ms) | ratio ours/torch median [p10, p90] (95% CI) |',
    '|---|---|---|---|---|',
  );
  for (const r of results) {
    for (const l of r.latency) {
      lines.push(
        `| ${r.preset} | ${l.batch} | ${f(l.ours?.p50 ?? Number.NaN)} | ${f(l.torch?.p50 ?? Number.NaN)} | ${f(l.ratio.median, 3)} [${f(l.ratio.p10, 3)}, ${f(l.ratio.p90, 3)}] (${f(l.ratio.medianCi95[0], 3)}–${f(l.ratio.medianCi95[1], 3)}) |`,
      );
    }
  }
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<void> {
  const arg = (name: string, fallback: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] ? (argv[i + 1] as string) : fallback;
  };
  const work = resolve(arg('--work', join(tmpdir(), 'onnx-export-emission-bench')));
  const presets = arg('--presets', 'convnext_tiny,convnext_large').split(',');
  await mkdir(work, { recursive: true });
  const results: PresetResult[] = [];
  for (const preset of presets) results.push(await benchPreset(preset, work));
  const out = join(work, 'emission-benchmark.json');
  await writeFile(out, `${JSON.stringify({ threads: THREADS, opset: OPSET, results }, null, 2)}\n`);
  process.stdout.write(`${table(results)}\n\nJSON: ${out}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`emission-benchmark: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
