/**
 * The diagnose benchmark (issue 23's target), run by hand (not in CI): on a LocalizationNet of a
 * torchvision preset (default convnext_large; made by scripts/fixtures/make_localizationnet.py, seed 3,
 * 4 reference samples), each in its own child process under /usr/bin/time -v (wall time, peak RSS):
 *   - one parity run of the emitted graph (`onnx-export parity`), the baseline of the targets;
 *   - `onnx-export diagnose corrupted.onnx model.onnx` (one hidden-layer weight perturbed; a graph run
 *     a slice at a time, both graphs), checking it names the corrupted layer;
 *   - `onnx-export diagnose model.onnx --intermediates` against PyTorch's intermediates (the forward
 *     hook of scripts/fixtures/intermediates_snippet.py);
 *   - the simpler approach for comparison (`--whole-graph-chunks`, this file run again as a child):
 *     every chunk of tensors exposed as outputs of the whole graph, each chunk a full run of both graphs.
 * Targets: diagnose at most 2× one parity run's time and 1.5× its peak RSS. Prints a table, writes JSON.
 *
 *   npm run build && npm run build:tools && node .state/tools-build/tools/diagnose-benchmark.js \
 *     [--work <dir>] [--preset convnext_large] [--repeats 3] [--max-chunk-mb 256]
 *
 * It must not be imported by library code; it spawns Python (/usr/bin/python3 with torch 1.13) and the built CLI.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { median } from '../bench/statistics';
import { findProjectRoot } from '../config/environment';
import { casesFromReference } from '../diagnose/diagnosis-cases';
import { judge, type Diagnosis } from '../diagnose/diagnosis';
import { graphOrder } from '../diagnose/graph-order';
import { comparableIn, DEFAULT_MAX_CHUNK_BYTES, feedsOf, openGraph } from '../diagnose/layer-errors';
import { floatValues, TensorErrorAccumulator, type TensorError } from '../diagnose/tensor-errors';
import { matchTensors } from '../diagnose/tensor-matching';
import { valueSizes } from '../diagnose/value-sizes';
import { serializeModelReferencingFiles } from '../onnx/encode';
import type { Model } from '../onnx/ir';
import { modulePathOf } from '../diagnose/graph-order';
import { seededHiddenWeights, writeCorrupted, type HiddenWeight } from '../test/unit/diagnose-seeded-corruption';
import { measured, type ProcessStats } from './process-stats';

const run = promisify(execFile);
const ROOT = findProjectRoot();
const PYTHON = '/usr/bin/python3';
const CLI = join(ROOT, 'bin', 'onnx-export.js');
const SEED = 3;
const SAMPLES = 4;

interface Measurement {
  readonly what: string;
  readonly runs: readonly ProcessStats[];
  readonly firstDivergence?: string;
}

async function prepare(
  work: string,
  preset: string,
): Promise<{ bundle: string; model: string; intermediates: string }> {
  const bundle = join(work, preset);
  if (!existsSync(join(bundle, 'reference.safetensors'))) {
    process.stderr.write(`making the ${preset} bundle in ${bundle}\n`);
    await run(PYTHON, [
      '-P',
      join(ROOT, 'scripts/fixtures/make_localizationnet.py'),
      ...['--out', bundle, '--backbone', preset, '--seed', String(SEED), '-n', String(SAMPLES)],
    ]);
  }
  const model = join(work, `${preset}.onnx`);
  await run('node', [CLI, 'emit', bundle, '-o', model], { maxBuffer: 16 * 1024 * 1024 });
  const intermediates = join(work, `${preset}-intermediates.safetensors`);
  if (!existsSync(intermediates)) {
    process.stderr.write(`writing PyTorch's intermediates to ${intermediates}\n`);
    await run(PYTHON, ['-P', join(ROOT, 'scripts/fixtures/intermediates_snippet.py'), '--demo', bundle, intermediates]);
  }
  return { bundle, model, intermediates };
}

/** Runs a command `repeats` times under /usr/bin/time -v (a failing exit status is data: diagnose exits 1 on a divergence). */
async function measure(what: string, repeats: number, cmd: string, args: readonly string[]): Promise<Measurement> {
  const runs: ProcessStats[] = [];
  let firstDivergence: string | undefined;
  for (let i = 0; i < repeats; i++) {
    const stats = await measured(cmd, args).catch((err: { stdout?: string; stderr?: string }) => {
      const field = (label: string) => err.stderr?.match(new RegExp(`${label}: (.+)`))?.[1]?.trim() ?? '';
      const wall = field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)').split(':').map(Number);
      return {
        wallSeconds: wall.reduce((acc, v) => acc * 60 + v, 0),
        peakRssMb: Number(field('Maximum resident set size \\(kbytes\\)')) / 1024,
        stdout: err.stdout ?? '',
      };
    });
    runs.push(stats);
    const json = stats.stdout.trim().startsWith('{') ? (JSON.parse(stats.stdout) as Partial<Diagnosis>) : undefined;
    const f = json?.firstDivergence;
    if (f !== undefined) firstDivergence = `${f.modulePath} (${f.node})`;
    else if (json !== undefined) firstDivergence = 'none';
    // Parity prints PASS/FAIL; anything else that printed no JSON crashed, and its figures mean nothing.
    else if (!/^(PASS|FAIL) /.test(stats.stdout)) firstDivergence = 'RUN FAILED';
  }
  process.stderr.write(
    `${what}: ${runs.map((r) => `${r.wallSeconds.toFixed(1)} s ${r.peakRssMb.toFixed(0)} MB`).join(', ')}\n`,
  );
  return { what, runs, ...(firstDivergence !== undefined ? { firstDivergence } : {}) };
}

async function main(argv: readonly string[]): Promise<void> {
  const arg = (name: string, fallback: string) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] ? (argv[i + 1] as string) : fallback;
  };
  if (argv[0] === '--whole-graph-chunks') {
    const [, candidate, baseline, reference, bytes] = argv as [string, string, string, string, string];
    process.stdout.write(`${JSON.stringify(await wholeGraphChunks(candidate, baseline, reference, Number(bytes)))}\n`);
    return;
  }
  const work = resolve(arg('--work', join(tmpdir(), 'onnx-export-diagnose-bench')));
  const preset = arg('--preset', 'convnext_large');
  const repeats = Number(arg('--repeats', '3'));
  const chunkMb = Number(arg('--max-chunk-mb', String(DEFAULT_MAX_CHUNK_BYTES / 2 ** 20)));
  await mkdir(work, { recursive: true });
  const { bundle, model, intermediates } = await prepare(work, preset);
  const reference = join(bundle, 'reference.safetensors');
  const [weight] = (await seededHiddenWeights(model, 1, SEED)) as [HiddenWeight];
  const corrupted = join(work, `${preset}-corrupted.onnx`);
  await writeCorrupted(model, corrupted, weight.initializer, SEED);
  const chunk = ['--max-chunk-mb', String(chunkMb)];
  const commands: readonly (readonly [string, readonly string[]])[] = [
    ['parity (one run)', [CLI, 'parity', model, '--reference', reference]],
    [
      'diagnose corrupted vs clean graph',
      [CLI, 'diagnose', corrupted, model, '--reference', reference, '--json', ...chunk],
    ],
    [
      "diagnose vs PyTorch's intermediates",
      [CLI, 'diagnose', model, '--reference', reference, '--intermediates', intermediates, '--json', ...chunk],
    ],
    [
      'whole-graph chunks (the simpler approach)',
      [process.argv[1] as string, '--whole-graph-chunks', corrupted, model, reference, String(chunkMb * 2 ** 20)],
    ],
  ];
  // Interleaved rounds (each command once per round): the machine is shared, and its load drifts.
  const rounds: Measurement[][] = [];
  for (let r = 0; r < repeats; r++) {
    const round: Measurement[] = [];
    for (const [what, args] of commands) round.push(await measure(what, 1, 'node', args));
    rounds.push(round);
  }
  const results: Measurement[] = commands.map(([what], i) => {
    const ms = rounds.map((round) => round[i] as Measurement);
    const firstDivergence = ms.find((m) => m.firstDivergence !== undefined)?.firstDivergence;
    return { what, runs: ms.flatMap((m) => m.runs), ...(firstDivergence !== undefined ? { firstDivergence } : {}) };
  });
  const parity = results[0] as Measurement;
  const base = {
    wall: median(parity.runs.map((r) => r.wallSeconds)),
    rss: median(parity.runs.map((r) => r.peakRssMb)),
  };
  const lines = [
    `${preset}: corrupted ${weight.initializer} (expected first divergence ${weight.modulePath} (${weight.node})); max chunk ${chunkMb} MiB; medians of ${repeats} interleaved rounds; load average ${loadavg()[0]?.toFixed(1)}`,
    `| run | wall s | × parity | peak RSS MB | × parity | first divergence |`,
    `| --- | --- | --- | --- | --- | --- |`,
    ...results.map((m) => {
      const wall = median(m.runs.map((r) => r.wallSeconds));
      const rss = median(m.runs.map((r) => r.peakRssMb));
      return `| ${m.what} | ${wall.toFixed(1)} | ${(wall / base.wall).toFixed(2)} | ${rss.toFixed(0)} | ${(rss / base.rss).toFixed(2)} | ${m.firstDivergence ?? ''} |`;
    }),
  ];
  const out = join(work, 'diagnose-benchmark.json');
  await writeFile(out, `${JSON.stringify({ preset, weight, chunkMb, repeats, results }, null, 2)}\n`);
  process.stdout.write(`${lines.join('\n')}\n\nJSON: ${out}\n`);
}

/**
 * The simpler approach: the tensors in chunks of at most `maxBytes`, each chunk a full run of both
 * whole graphs exposing that chunk as outputs. The same pairing, cases and judgement as diagnose.
 */
async function wholeGraphChunks(
  candidatePath: string,
  baselinePath: string,
  referencePath: string,
  maxBytes: number,
): Promise<Pick<Diagnosis, 'firstDivergence'> & { sessions: number; seconds: number }> {
  const start = process.hrtime.bigint();
  const [candidate, baseline] = [await openGraph(candidatePath), await openGraph(baselinePath)];
  const cases = await casesFromReference(candidate, candidatePath, referencePath);
  const dims = cases.map((c) => new Map([...c.inputs].map(([n, t]) => [n, t.dims])));
  const sizes = valueSizes(candidate, dims);
  const order = graphOrder(candidate.graph);
  const match = matchTensors(
    { graph: candidate.graph, order, comparable: comparableIn(sizes) },
    { graph: baseline.graph, order: graphOrder(baseline.graph), comparable: comparableIn(valueSizes(baseline, dims)) },
  );
  const chunks: string[][] = [[]];
  let bytes = 0;
  for (const p of match.pairs) {
    if (bytes + sizes.bytes(p.candidate) > maxBytes && (chunks.at(-1) as string[]).length > 0) {
      chunks.push([]);
      bytes = 0;
    }
    (chunks.at(-1) as string[]).push(p.candidate);
    bytes += sizes.bytes(p.candidate);
  }
  const work = await mkdtemp(join(tmpdir(), 'whole-graph-chunks-'));
  const errors: TensorError[] = [];
  let sessions = 0;
  try {
    const links = new Map<string, string>();
    const exposing = async (model: Model, names: readonly string[]): Promise<ort.InferenceSession> => {
      for (const t of model.graph.initializers) {
        if (t.data.kind !== 'file' || links.has(t.data.path)) continue;
        const name = `${links.size}-${basename(t.data.path)}`;
        await link(t.data.path, join(work, name));
        links.set(t.data.path, name);
      }
      const file = join(work, `${sessions++}.onnx`);
      const outputs = names.map((name) => ({ name }));
      await writeFile(
        file,
        await serializeModelReferencingFiles({ ...model, graph: { ...model.graph, outputs } }, (p) => links.get(p)),
      );
      return ort.InferenceSession.create(file);
    };
    for (const names of chunks) {
      const acc = new Map(names.map((n) => [n, new TensorErrorAccumulator()]));
      const a = await exposing(candidate, names);
      const b = await exposing(baseline, names);
      for (const c of cases) {
        const got = await a.run(Object.fromEntries(feedsOf(c)));
        const want = await b.run(Object.fromEntries(feedsOf(c)));
        for (const n of names) {
          const x = floatValues(got[n] as ort.Tensor);
          const y = floatValues(want[n] as ort.Tensor);
          if (x !== undefined && y !== undefined) acc.get(n)?.add(x, y);
        }
      }
      await a.release();
      await b.release();
      for (const [n, e] of acc) {
        const depth = order.producer.get(n) as number;
        const node = order.nodes[depth];
        const r = e.result();
        errors.push({
          tensor: n,
          node: node?.name ?? '',
          op: node?.opType ?? '',
          modulePath: modulePathOf(node?.name ?? ''),
          depth,
          mae: r.mae,
          maxAbs: r.maxAbs,
          baselineMeanAbs: r.baselineMeanAbs,
          nonFinite: r.nonFinite,
        });
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const { firstDivergence } = judge(errors);
  return {
    ...(firstDivergence ? { firstDivergence } : {}),
    sessions,
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
  };
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
