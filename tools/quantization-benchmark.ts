/**
 * Quantization benchmark, run by hand (not in CI): our int8 static QDQ quantizer (`onnx-export
 * quantize`) against onnxruntime's Python quantizers (tools/quantization-baseline.py: quantize_static
 * QDQ and quantize_dynamic) on the same fp32 graph (our emitter's) and the same calibration inputs.
 * A preset is a LocalizationNet backbone (scripts/fixtures/make_localizationnet.py: calibration and
 * reference inputs drawn apart) or one of the training service's models, `heimdall_net`,
 * `triangulation_model`, `iq_resnet18` (scripts/fixtures/make_heimdall_bundle.py, weights bundle:
 * calibration.safetensors at HEIMDALL_CALIBRATION_SAMPLES per case, and holdout cases beside the
 * reference; all three from separate generator streams). Every graph input is fed, from the cases.
 * Per preset and graph (fp32, ours int8, quantize_static, quantize_dynamic):
 * - file size and its ratio to fp32;
 * - onnxruntime-node latency at batch 1 and 32 (N = 7 receivers and IQ length 10000 where the graph
 *   has those dimensions; int64 and bool inputs from the reference's first case, float inputs standard
 *   normals: bench/signature-feeds.ts), 2 threads, by the library's interleaved comparison
 *   (compareModels: alternating order, spinning off), each int8 graph against fp32, and ours against
 *   quantize_static; p50 and the per-pair ratio with its 95% interval. A graph whose pairs are too slow
 *   for that within the time budget (quantize_dynamic at batch 32 on convnext_large: ConvInteger has no
 *   fast kernel) gets 3 hand-alternated pairs instead, marked `direct` / † (min–max, no interval);
 * - MAE and max abs error of each output against PyTorch's: on reference.safetensors (drawn apart from
 *   calibration.safetensors) and, for the Heimdall models, on the holdout cases too.
 * Prints a markdown table and writes JSON (summary and the full comparison reports) to the work dir.
 *
 *   npm run build && npm run build:tools && node .state/tools-build/tools/quantization-benchmark.js \
 *     [--presets convnext_tiny,convnext_large,heimdall_net,triangulation_model,iq_resnet18] [--work <dir>]
 *     [--skip-ours] [--skip-dynamic] [--time-budget <s>] [--max-runs <n>]
 *     [--accuracy-aware [--mae-gate <x|half>] [--max-float <fraction>]]
 *
 * `--accuracy-aware` adds our accuracy-aware int8 (`quantize --reference`, quantize/accuracy-aware.ts)
 * as a graph of its own: gated on the reference cases at `--mae-gate` (default `half`: half of our
 * plain int8's worst output MAE there; the max abs tolerance stays the int8 default), keeping at most
 * `--max-float` of the quantizable nodes float (default 0.1, the issue's target). Its search record
 * (rounds, nodes kept float, seconds) is in the JSON.
 *
 * `--skip-ours` leaves our quantizer out (fp32, quantize_static and quantize_dynamic only);
 * `--skip-dynamic` leaves quantize_dynamic out. Without it
 * the tool first checks that the `quantize` command exists and stops with a message if not.
 * It must not be imported by library code; it spawns Python (/usr/bin/python3 with torch for the
 * bundle, the project venv with onnxruntime.quantization for the baseline).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { findProjectRoot } from '../config/environment';
import { performance } from 'node:perf_hooks';
import { InferenceSession } from 'onnxruntime-node';
import { compareModels, sessionOptions } from '../bench/latency-benchmark';
import { planFeeds, signatureFeeds, type FeedOptions } from '../bench/signature-feeds';
import { tensorDims } from '../common/model-signature';
import { graphSignature } from '../onnx/graph-signature';
import { readModel } from '../onnx/serialize-read';
import { summarize, summarizeRatios } from '../bench/statistics';
import type { ComparisonReport, LatencyStats, RatioStats } from '../bench/report-types';
import { runParity } from '../parity/run-parity';
import type { OutputErrors } from '../parity/error-stats';

const run = promisify(execFile);
const ROOT = findProjectRoot();
const CLI = join(ROOT, 'bin/onnx-export.js');
const TORCH_PYTHON = '/usr/bin/python3';
/** Threads per onnxruntime session: the issue's setting (the machine has 2 cores). */
const THREADS = 2;
const BATCHES = [1, 32];
const SAMPLES = 32;
const CALIBRATION_SAMPLES = 32;
const SEED = 1;
/** The training service's models (make_heimdall_bundle.py's weights bundles, its default seed 3). */
const HEIMDALL_MODELS = ['heimdall_net', 'triangulation_model', 'iq_resnet18'];
/** Calibration samples per case of a Heimdall bundle (three cases: 48 samples, beside LocalizationNet's 32). */
const HEIMDALL_CALIBRATION_SAMPLES = 16;
/** The issue's latency sizes, for the graphs that have these symbolic dimensions. */
const LATENCY_DIMS: Readonly<Record<string, number>> = { receivers: 7, seq_len: 10_000 };
/**
 * Per comparison and batch size: at most this many interleaved pairs / this much measuring time (it
 * stops sooner once the median ratio is known to ±2%). Four comparisons per preset: convnext_large
 * stays within ~15 minutes all told (batch 32 at ~1 s per fp32 run gets ~25 pairs).
 */
const DEFAULT_MAX_PAIRS = 60;
const DEFAULT_BUDGET_MS = 45_000;
/** Parity here measures, it does not judge: tolerances no int8 model can exceed. */
const NO_TOLERANCE = 1e9;
const MAX_BUFFER = 64 * 1024 * 1024;

const GRAPHS = ['fp32', 'ours', 'accuracy_aware', 'quantize_static', 'quantize_dynamic'] as const;
type Graph = (typeof GRAPHS)[number];
const LABELS: Record<Graph, string> = {
  fp32: 'fp32 (our emitter)',
  ours: 'ours int8 (QDQ)',
  accuracy_aware: 'ours int8, accuracy-aware',
  quantize_static: 'ort quantize_static (QDQ)',
  quantize_dynamic: 'ort quantize_dynamic',
};

interface Options {
  readonly work: string;
  readonly presets: readonly string[];
  readonly skipOurs: boolean;
  readonly skipDynamic: boolean;
  readonly budgetMs: number;
  readonly maxPairs: number;
  /** `--accuracy-aware`: the gate's MAE (`half`: half of our plain int8's) and the float bound. */
  readonly accuracyAware?: { readonly maeGate: number | 'half'; readonly maxFloat: number };
}

/** The issue's target: at most a tenth of the quantizable nodes kept float. */
const DEFAULT_ACCURACY_AWARE_MAX_FLOAT = 0.1;

interface Errors {
  readonly mae: number;
  readonly maxAbs: number;
}

interface GraphResult {
  readonly graph: Graph;
  readonly path: string;
  readonly bytes: number;
  readonly sizeRatio: number;
  /** Wall seconds of the quantizer's process (absent for fp32). */
  readonly quantizeSeconds?: number;
  /** Per evaluation set (`reference`, `holdout`), per output. */
  readonly errors: Readonly<Record<string, Readonly<Record<string, Errors>>>>;
  /** p50 per batch size, from the comparison against fp32 (for fp32: from the first comparison). */
  readonly p50Ms: Readonly<Record<string, number>>;
  /** Per batch size, this graph ÷ fp32 (absent for fp32). */
  readonly vsFp32?: Readonly<Record<string, RatioStats>>;
  /** Per batch size, how the ratio was measured (see BatchComparison). */
  readonly latencyMethod?: Readonly<Record<string, 'interleaved' | 'direct'>>;
}

class ToolError extends Error {}

/** Our quantizer's CLI: until it lands, `quantize --help` falls through to the general help. */
async function checkQuantizerCli(): Promise<void> {
  let out = '';
  try {
    out = (await run(process.execPath, [CLI, 'quantize', '--help'], { maxBuffer: MAX_BUFFER })).stdout;
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
  }
  if (!/Usage: onnx-export quantize/.test(out)) {
    throw new ToolError(
      'our quantizer CLI is not available: `node bin/onnx-export.js quantize --help` does not show the quantize ' +
        'command (not implemented yet, or `npm run build` not run since). Build it, or pass --skip-ours to ' +
        "benchmark only onnxruntime's quantizers against fp32.",
    );
  }
}

async function venvPython(): Promise<string> {
  const { stdout } = await run('bash', [join(ROOT, 'scripts/ensure-python-venv.sh')], {
    cwd: ROOT,
    maxBuffer: MAX_BUFFER,
  });
  const venv = stdout.trim().split('\n').pop()?.trim() ?? '';
  const python = join(venv, 'bin/python');
  if (!venv || !existsSync(python)) throw new ToolError(`scripts/ensure-python-venv.sh gave no venv (${stdout})`);
  return python;
}

/** One evaluation set: PyTorch's outputs on cases calibration never saw. */
interface EvaluationSet {
  readonly name: string;
  readonly path: string;
}

/** Makes the preset's bundle in `dir` (unless it is there); returns its evaluation sets. */
async function makeBundle(preset: string, dir: string): Promise<EvaluationSet[]> {
  const files = ['config.json', 'model.safetensors', 'reference.safetensors', 'calibration.safetensors'];
  const reference = { name: 'reference', path: join(dir, 'reference.safetensors') };
  if (HEIMDALL_MODELS.includes(preset)) {
    const holdout = { name: 'holdout', path: `${dir}-holdout.safetensors` };
    if (![...files.map((f) => join(dir, f)), holdout.path].every((f) => existsSync(f))) {
      process.stderr.write(`${preset}: making the bundle in ${dir}\n`);
      // The holdout file must lie outside the bundle (the script refuses otherwise).
      await run(
        TORCH_PYTHON,
        [
          join(ROOT, 'scripts/fixtures/make_heimdall_bundle.py'),
          ...['--model', preset, '--export', 'none', '--weights', 'safetensors', '--out', dir],
          ...['--calibration-samples', String(HEIMDALL_CALIBRATION_SAMPLES), '--holdout', holdout.path],
        ],
        { maxBuffer: MAX_BUFFER },
      );
    }
    return [reference, holdout];
  }
  if (files.every((f) => existsSync(join(dir, f)))) return [reference];
  process.stderr.write(`${preset}: making the bundle in ${dir}\n`);
  await run(
    TORCH_PYTHON,
    [
      join(ROOT, 'scripts/fixtures/make_localizationnet.py'),
      '--out',
      dir,
      '--backbone',
      preset,
      '--samples',
      String(SAMPLES),
      '--calibration-samples',
      String(CALIBRATION_SAMPLES),
      '--seed',
      String(SEED),
    ],
    { maxBuffer: MAX_BUFFER },
  );
  return [reference];
}

/** Latency feeds: LATENCY_DIMS for the symbolic dimensions the graph has, the rest from the reference. */
async function feedOptions(modelPath: string, reference: string): Promise<FeedOptions> {
  const signature = graphSignature(await readModel(modelPath));
  const names = new Set(signature.inputs.flatMap((t) => tensorDims(signature, t).slice(1)));
  return { reference, dims: Object.fromEntries(Object.entries(LATENCY_DIMS).filter(([d]) => names.has(d))) };
}

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = process.hrtime.bigint();
  const value = await f();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

/** A `--json` output: the whole stdout as JSON (pretty-printed or not), else its last line. */
function jsonOutput(stdout: string, what: string): Record<string, unknown> {
  for (const text of [stdout, stdout.trim().split('\n').pop() ?? '']) {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      // try the next form
    }
  }
  throw new ToolError(`${what}: expected JSON on stdout, got ${JSON.stringify(stdout.slice(-500))}`);
}

/** Runs a child process; on failure, its stderr's tail in the message. */
async function child(what: string, cmd: string, args: readonly string[]): Promise<string> {
  try {
    return (await run(cmd, args, { cwd: ROOT, maxBuffer: MAX_BUFFER })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    throw new ToolError(`${what} failed: ${e.message ?? ''}\n${String(e.stderr ?? '').slice(-4000)}`);
  }
}

function errorsOf(o: OutputErrors): Errors {
  if (o.nonFiniteOutputs > 0) process.stderr.write(`warning: ${o.nonFiniteOutputs} non-finite outputs\n`);
  return { mae: o.mae, maxAbs: o.maxAbs };
}

async function benchPreset(preset: string, options: Options, python: string) {
  const dir = join(options.work, preset);
  await mkdir(dir, { recursive: true });
  const evaluation = await makeBundle(preset, dir);
  const reference = join(dir, 'reference.safetensors');
  const calibration = join(dir, 'calibration.safetensors');
  const paths: Record<Graph, string> = {
    fp32: join(dir, 'fp32.onnx'),
    ours: join(dir, 'ours-int8.onnx'),
    accuracy_aware: join(dir, 'ours-int8-accuracy-aware.onnx'),
    quantize_static: join(dir, 'ort-quantize-static.onnx'),
    quantize_dynamic: join(dir, 'ort-quantize-dynamic.onnx'),
  };
  process.stderr.write(`${preset}: emitting fp32\n`);
  await child('emit', process.execPath, [CLI, 'emit', dir, '-o', paths.fp32, '--json']);

  const quantizeSeconds: Partial<Record<Graph, number>> = {};
  let oursReport: unknown;
  if (!options.skipOurs) {
    process.stderr.write(`${preset}: our quantizer\n`);
    const { value, seconds } = await timed(() =>
      child('onnx-export quantize', process.execPath, [
        CLI,
        'quantize',
        paths.fp32,
        '--calibration',
        calibration,
        '-o',
        paths.ours,
        '--json',
      ]),
    );
    quantizeSeconds.ours = seconds;
    oursReport = jsonOutput(value, 'onnx-export quantize --json');
    if (!existsSync(paths.ours)) throw new ToolError(`onnx-export quantize exited 0 but wrote no ${paths.ours}`);
  }
  let accuracyAware: { gate: { mae: number }; maxFloat: number; report: unknown } | undefined;
  if (options.accuracyAware && !options.skipOurs) {
    const { maxFloat } = options.accuracyAware;
    let mae = options.accuracyAware.maeGate;
    if (mae === 'half') {
      const plain = await runParity(paths.ours, reference, {
        mae: NO_TOLERANCE,
        maxAbs: NO_TOLERANCE,
        threads: THREADS,
      });
      mae = Math.max(...Object.values(plain.outputs).map((o) => o.mae)) / 2;
    }
    process.stderr.write(`${preset}: accuracy-aware int8 (MAE gate ${mae.toExponential(3)}, max float ${maxFloat})\n`);
    const { value, seconds } = await timed(() =>
      child('onnx-export quantize --reference', process.execPath, [
        CLI,
        'quantize',
        paths.fp32,
        ...['--calibration', calibration, '--reference', reference],
        ...['--mae', String(mae), '--max-float', String(maxFloat)],
        ...['-o', paths.accuracy_aware, '--json'],
      ]),
    );
    quantizeSeconds.accuracy_aware = seconds;
    accuracyAware = { gate: { mae }, maxFloat, report: jsonOutput(value, 'onnx-export quantize --reference --json') };
  }
  process.stderr.write(`${preset}: onnxruntime quantize_static${options.skipDynamic ? '' : ' and quantize_dynamic'}\n`);
  const { value: baselineOut, seconds: baselineSeconds } = await timed(() =>
    child('tools/quantization-baseline.py', python, [
      '-P',
      join(ROOT, 'tools/quantization-baseline.py'),
      paths.fp32,
      calibration,
      '--static-out',
      paths.quantize_static,
      ...(options.skipDynamic ? [] : ['--dynamic-out', paths.quantize_dynamic]),
    ]),
  );
  const baseline = jsonOutput(baselineOut, 'quantization-baseline.py') as {
    static?: { seconds: number };
    dynamic?: { seconds: number };
  };
  quantizeSeconds.quantize_static = baseline.static?.seconds;
  quantizeSeconds.quantize_dynamic = baseline.dynamic?.seconds;

  const graphs = GRAPHS.filter(
    (g) =>
      !(g === 'ours' && options.skipOurs) &&
      !(g === 'accuracy_aware' && accuracyAware === undefined) &&
      !(g === 'quantize_dynamic' && options.skipDynamic),
  );
  const bytes = Object.fromEntries(
    await Promise.all(graphs.map(async (g) => [g, (await stat(paths[g])).size] as const)),
  ) as Record<Graph, number>;

  process.stderr.write(`${preset}: errors on ${evaluation.map((e) => e.name).join(' and ')}\n`);
  const errors: Partial<Record<Graph, GraphResult['errors']>> = {};
  for (const g of graphs) {
    const sets: Record<string, Record<string, Errors>> = {};
    for (const e of evaluation) {
      const r = await runParity(paths[g], e.path, { mae: NO_TOLERANCE, maxAbs: NO_TOLERANCE, threads: THREADS });
      sets[e.name] = Object.fromEntries(Object.entries(r.outputs).map(([name, o]) => [name, errorsOf(o)]));
    }
    errors[g] = sets;
  }

  const feeds = await feedOptions(paths.fp32, reference);
  const comparisons: Comparison[] = [];
  for (const g of graphs.filter((x) => x !== 'fp32')) {
    process.stderr.write(`${preset}: latency ${g} vs fp32\n`);
    comparisons.push(await compare(g, 'fp32', paths, options, feeds));
  }
  let oursVsStatic: Record<string, RatioStats> | undefined;
  if (!options.skipOurs) {
    process.stderr.write(`${preset}: latency ours vs quantize_static\n`);
    const c = await compare('ours', 'quantize_static', paths, options, feeds);
    comparisons.push(c);
    oursVsStatic = Object.fromEntries(c.batches.map((b) => [String(b.batchSize), b.ratio]));
  }

  const results: GraphResult[] = graphs.map((g) => {
    const vs = comparisons.find((c) => c.candidate === g && c.baseline === 'fp32');
    const rows = g === 'fp32' ? comparisons[0]?.batches : vs?.batches;
    const p50Ms = Object.fromEntries(
      (rows ?? []).map((b) => [String(b.batchSize), g === 'fp32' ? b.baselineP50Ms : b.candidateP50Ms]),
    );
    return {
      graph: g,
      path: paths[g],
      bytes: bytes[g],
      sizeRatio: bytes[g] / bytes.fp32,
      ...(quantizeSeconds[g] === undefined ? {} : { quantizeSeconds: quantizeSeconds[g] }),
      errors: errors[g] as GraphResult['errors'],
      p50Ms,
      ...(vs ? { vsFp32: Object.fromEntries(vs.batches.map((b) => [String(b.batchSize), b.ratio])) } : {}),
      ...(vs ? { latencyMethod: Object.fromEntries(vs.batches.map((b) => [String(b.batchSize), b.method])) } : {}),
    };
  });
  const reportsPath = join(dir, 'quantization-latency-reports.json');
  await writeFile(reportsPath, `${JSON.stringify(comparisons, null, 2)}\n`);
  return {
    preset,
    latencyDims: feeds.dims ?? {},
    graphs: results,
    oursVsStatic,
    baseline: { ...baseline, processSeconds: baselineSeconds },
    ours: oursReport,
    ...(accuracyAware ? { accuracyAware } : {}),
    loadAverage1m: comparisons.flatMap((c) => c.loadAverage1m),
    latencyReports: reportsPath,
  };
}

interface BatchComparison {
  readonly batchSize: number;
  /**
   * `interleaved`: the library's compareModels (warm-up until stable, up to the budget, alternating
   * order). `direct`: a graph too slow for that within the budget (quantize_dynamic's ConvInteger):
   * DIRECT_PAIRS hand-alternated pairs after one warm run, no stable-warm-up check.
   */
  readonly method: 'interleaved' | 'direct';
  readonly candidateP50Ms: number;
  readonly baselineP50Ms: number;
  readonly ratio: RatioStats;
}

interface Comparison {
  readonly candidate: Graph;
  readonly baseline: Graph;
  readonly batches: readonly BatchComparison[];
  readonly loadAverage1m: readonly number[];
  /** The library's report for the interleaved batch sizes. */
  readonly report?: ComparisonReport;
  readonly probePairMs: Readonly<Record<string, number>>;
}

/**
 * A library comparison costs at least ~16 pairs per batch size (warm-up: two windows of at least 3
 * pairs; then at least 10 measured); a batch size where that would take over 3 time budgets gets
 * DIRECT_PAIRS pairs instead.
 */
const MIN_COMPARISON_PAIRS = 16;
const DIRECT_PAIRS = 3;

/** Times one run (after a first, untimed one) of both graphs per batch size, then compares. */
async function compare(
  candidate: Graph,
  base: Graph,
  paths: Readonly<Record<Graph, string>>,
  options: Options,
  feeds: FeedOptions,
): Promise<Comparison> {
  const settings = sessionOptions({ executionProvider: 'cpu', threads: THREADS, allowSpinning: false, deviceId: 0 });
  const loadStart = loadavg()[0] as number;
  const [a, b] = [
    await InferenceSession.create(paths[candidate], settings),
    await InferenceSession.create(paths[base], settings),
  ];
  const direct: BatchComparison[] = [];
  const probePairMs: Record<string, number> = {};
  const interleavedBatches: number[] = [];
  const [planA, planB] = [
    await planFeeds(paths[candidate], candidate, feeds),
    await planFeeds(paths[base], base, feeds),
  ];
  try {
    for (const batch of BATCHES) {
      const fa = signatureFeeds(planA, batch, 1, 17, candidate)[0] as InferenceSession.FeedsType;
      const fb = signatureFeeds(planB, batch, 1, 17, base)[0] as InferenceSession.FeedsType;
      const time = async (s: InferenceSession, f: InferenceSession.FeedsType) => {
        const t0 = performance.now();
        await s.run(f);
        return performance.now() - t0;
      };
      await time(a, fa);
      await time(b, fb);
      const sa = [await time(a, fa)];
      const sb = [await time(b, fb)];
      const pairMs = (sa[0] as number) + (sb[0] as number);
      probePairMs[String(batch)] = pairMs;
      if (MIN_COMPARISON_PAIRS * pairMs <= 3 * options.budgetMs) {
        interleavedBatches.push(batch);
        continue;
      }
      process.stderr.write(
        `  batch ${batch}: a pair takes ${(pairMs / 1000).toFixed(1)} s; ${DIRECT_PAIRS} direct pairs instead\n`,
      );
      for (let i = 1; i < DIRECT_PAIRS; i++) {
        if (i % 2 === 1) {
          sb.push(await time(b, fb));
          sa.push(await time(a, fa));
        } else {
          sa.push(await time(a, fa));
          sb.push(await time(b, fb));
        }
      }
      direct.push({
        batchSize: batch,
        method: 'direct',
        candidateP50Ms: summarize(sa).p50,
        baselineP50Ms: summarize(sb).p50,
        ratio: summarizeRatios(sa, sb),
      });
    }
  } finally {
    await a.release();
    await b.release();
  }
  let report: ComparisonReport | undefined;
  if (interleavedBatches.length > 0) {
    report = await compareModels(
      { path: paths[candidate], label: LABELS[candidate] },
      { path: paths[base], label: LABELS[base] },
      {
        batchSizes: interleavedBatches,
        threads: THREADS,
        timeBudgetMs: options.budgetMs,
        maxRuns: options.maxPairs,
        inputs: feeds,
      },
    );
  }
  const interleaved: BatchComparison[] = (report?.pairs ?? []).map((p, i) => ({
    batchSize: p.batchSize,
    method: 'interleaved',
    candidateP50Ms: (report?.candidate.batches[i]?.stats as LatencyStats).p50,
    baselineP50Ms: (report?.baseline.batches[i]?.stats as LatencyStats).p50,
    ratio: p.ratio,
  }));
  return {
    candidate,
    baseline: base,
    batches: [...interleaved, ...direct].sort((x, y) => x.batchSize - y.batchSize),
    loadAverage1m: [loadStart, loadavg()[0] as number],
    ...(report ? { report } : {}),
    probePairMs,
  };
}

type PresetResult = Awaited<ReturnType<typeof benchPreset>>;

function ratioCell(r: RatioStats | undefined, method?: 'interleaved' | 'direct'): string {
  if (!r) return '—';
  const range = `${r.medianCi95[0].toFixed(3)}–${r.medianCi95[1].toFixed(3)}`;
  return method === 'direct'
    ? `${r.median.toFixed(3)} (range ${range}), ${r.pairs} direct pairs †`
    : `${r.median.toFixed(3)} (${range}), ${r.pairs} pairs`;
}

function table(results: readonly PresetResult[]): string {
  const e = (v: number) => v.toExponential(2);
  const lines: string[] = [];
  for (const r of results) {
    // Error columns: each evaluation set's outputs, in the order the fp32 graph's report lists them.
    const columns = Object.entries(r.graphs[0]?.errors ?? {}).flatMap(([set, outputs]) =>
      Object.keys(outputs).map((output) => [set, output] as const),
    );
    const dims = Object.entries(r.latencyDims).map(([d, n]) => `${d} ${n}`);
    const load = `load average ${Math.min(...r.loadAverage1m).toFixed(1)}–${Math.max(...r.loadAverage1m).toFixed(1)}`;
    lines.push(
      `### ${r.preset} (${[...dims, load].join(', ')})`,
      '',
      `| graph | size (MiB) | ÷ fp32 | quantize (s) | b1 p50 (ms) | b1 ÷ fp32 (95% CI) | b32 p50 (ms) | b32 ÷ fp32 (95% CI) | ${columns.map(([set, output]) => `${output} MAE / max (${set})`).join(' | ')} |`,
      `|---|---|---|---|---|---|---|---|${columns.map(() => '---|').join('')}`,
    );
    for (const g of r.graphs) {
      const p = (b: number) => g.p50Ms[String(b)]?.toFixed(2) ?? '—';
      const errorCells = columns.map(([set, output]) => {
        const x = g.errors[set]?.[output];
        return x ? `${e(x.mae)} / ${e(x.maxAbs)}` : '—';
      });
      lines.push(
        `| ${LABELS[g.graph]} | ${(g.bytes / 2 ** 20).toFixed(2)} | ${g.sizeRatio.toFixed(3)} | ${g.quantizeSeconds?.toFixed(1) ?? '—'} | ${p(1)} | ${ratioCell(g.vsFp32?.['1'], g.latencyMethod?.['1'])} | ${p(32)} | ${ratioCell(g.vsFp32?.['32'], g.latencyMethod?.['32'])} | ${errorCells.join(' | ')} |`,
      );
    }
    if (r.graphs.some((g) => Object.values(g.latencyMethod ?? {}).includes('direct'))) {
      lines.push(
        '',
        `† too slow for an interleaved comparison within the budget: ${DIRECT_PAIRS} hand-alternated pairs after one warm run (min–max, no interval).`,
      );
    }
    if (r.accuracyAware) {
      const search = (r.accuracyAware.report as { accuracySearch?: Record<string, unknown> }).accuracySearch as
        | {
            passed: boolean;
            stop: string;
            quantizable: number;
            floatNodes: { node: string }[];
            rounds: unknown[];
            rankings: number;
            seconds: number;
          }
        | undefined;
      if (search)
        lines.push(
          '',
          `accuracy-aware: MAE gate ${e(r.accuracyAware.gate.mae)}, ${search.passed ? 'met' : `missed (${search.stop})`} with ` +
            `${search.floatNodes.length} of ${search.quantizable} quantizable nodes float (bound ${r.accuracyAware.maxFloat}): ` +
            `${search.floatNodes.map((f) => f.node).join(', ') || 'none'}; ${search.rounds.length} rounds, ${search.rankings} rankings, ${search.seconds.toFixed(1)} s`,
        );
    }
    if (r.oursVsStatic) {
      lines.push(
        '',
        `ours ÷ quantize_static: batch 1 ${ratioCell(r.oursVsStatic['1'])}; batch 32 ${ratioCell(r.oursVsStatic['32'])}`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

function parseArgs(argv: readonly string[]): Options {
  const arg = (name: string, fallback: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] ? (argv[i + 1] as string) : fallback;
  };
  const number = (name: string, fallback: number) => {
    const v = Number(arg(name, String(fallback)));
    if (!Number.isFinite(v) || v <= 0) throw new ToolError(`${name} must be a positive number`);
    return v;
  };
  return {
    work: resolve(arg('--work', join(tmpdir(), 'onnx-export-quantization-bench'))),
    presets: arg('--presets', 'convnext_tiny,convnext_large').split(','),
    skipOurs: argv.includes('--skip-ours'),
    skipDynamic: argv.includes('--skip-dynamic'),
    budgetMs: number('--time-budget', DEFAULT_BUDGET_MS / 1000) * 1000,
    maxPairs: number('--max-runs', DEFAULT_MAX_PAIRS),
    ...(argv.includes('--accuracy-aware')
      ? {
          accuracyAware: {
            maeGate: arg('--mae-gate', 'half') === 'half' ? 'half' : number('--mae-gate', 1),
            maxFloat: number('--max-float', DEFAULT_ACCURACY_AWARE_MAX_FLOAT),
          },
        }
      : {}),
  };
}

async function main(argv: readonly string[]): Promise<void> {
  const options = parseArgs(argv);
  if (!options.skipOurs) await checkQuantizerCli();
  const python = await venvPython();
  await mkdir(options.work, { recursive: true });
  const started = new Date().toISOString();
  const results: PresetResult[] = [];
  for (const preset of options.presets) {
    const { value, seconds } = await timed(() => benchPreset(preset, options, python));
    process.stderr.write(`${preset}: done in ${seconds.toFixed(0)} s\n`);
    results.push(value);
  }
  const out = join(options.work, 'quantization-benchmark.json');
  const settings = {
    threads: THREADS,
    batches: BATCHES,
    referenceSamples: SAMPLES,
    calibrationSamples: CALIBRATION_SAMPLES,
    heimdallCalibrationSamplesPerCase: HEIMDALL_CALIBRATION_SAMPLES,
    latencyDims: LATENCY_DIMS,
    seed: SEED,
    timeBudgetMs: options.budgetMs,
    maxPairs: options.maxPairs,
    skipOurs: options.skipOurs,
    skipDynamic: options.skipDynamic,
    ...(options.accuracyAware ? { accuracyAware: options.accuracyAware } : {}),
  };
  await writeFile(out, `${JSON.stringify({ started, settings, results }, null, 2)}\n`);
  process.stdout.write(`${table(results)}\nJSON: ${out}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const message =
      err instanceof ToolError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`quantization-benchmark: ${message}\n`);
    process.exitCode = 1;
  });
}
