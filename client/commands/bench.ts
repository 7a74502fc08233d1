/**
 * `onnx-export bench <model.onnx>`: the latency benchmark in this process (no Temporal), alone or
 * against `--baseline` interleaved. Parses options, shows progress (a bar on a terminal, plain lines
 * otherwise, always on stderr so `--json` stays clean), prints and writes; the work is bench/.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { benchmarkModel, compareModels, formatComparison, formatLatencyReport, renderLatencySvg } from '../../bench';
import type { BenchmarkOptions, BenchmarkProgress, ComparisonReport, LatencyReport } from '../../bench';

interface BenchOpts {
  batch: number[];
  dims?: Record<string, number>;
  reference?: string;
  threads?: number;
  ep: 'cpu' | 'cuda';
  baseline?: string;
  label?: string;
  baselineLabel?: string;
  runs?: number;
  minRuns?: number;
  timeBudget?: number;
  spinning?: boolean;
  fixedOrder?: boolean;
  json?: boolean;
  svg?: string;
  out?: string;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

function batchList(value: string): number[] {
  return value.split(',').map((v) => positiveInt(v.trim()));
}

/** `receivers=7,seq_len=10000` → `{receivers: 7, seq_len: 10000}`. */
export function dimList(value: string): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const part of value.split(',')) {
    const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(part);
    if (!m) throw new InvalidArgumentError(`expected name=N[,name=N…], got '${part}'`);
    dims[m[1] as string] = positiveInt(m[2] as string);
  }
  return dims;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!(n >= 0)) throw new InvalidArgumentError(`expected seconds >= 0, got '${value}'`);
  return n;
}

function provider(value: string): 'cpu' | 'cuda' {
  if (value !== 'cpu' && value !== 'cuda') throw new InvalidArgumentError(`expected cpu or cuda, got '${value}'`);
  return value;
}

/** A progress bar redrawn in place on a terminal; one line per phase change elsewhere. */
export function progressReporter(stream: NodeJS.WriteStream): { update(p: BenchmarkProgress): void; end(): void } {
  let lastKey = '';
  let drawn = false;
  return {
    update(p) {
      const where = p.batchSize !== undefined ? ` batch ${p.batchSize}` : '';
      const key = `${p.model}${where} ${p.phase}`;
      if (stream.isTTY) {
        const width = 24;
        const filled = p.total > 0 ? Math.min(width, Math.round((p.done / p.total) * width)) : 0;
        stream.write(
          `\r\x1b[2K${p.model}${where} ${p.phase.padEnd(7)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}`,
        );
        drawn = true;
      } else if (key !== lastKey) {
        stream.write(`${key}\n`);
      }
      lastKey = key;
    },
    end() {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}

export function register(program: Command): void {
  program
    .command('bench')
    .description(
      'measure an ONNX model with onnxruntime-node (latency percentiles, throughput, memory); --baseline compares two interleaved',
    )
    .argument('<model.onnx>', 'model to measure (the candidate with --baseline)')
    .option('--batch <list>', 'batch sizes, comma-separated', batchList, [1, 32])
    .option(
      '--dims <name=N,…>',
      "sizes of the graph's symbolic dimensions other than the batch, e.g. receivers=7,seq_len=10000",
      dimList,
    )
    .option(
      '--reference <reference.safetensors>',
      'reference cases: values of int64/bool inputs and, by default, the sizes of symbolic dimensions (its first case)',
    )
    .option('--threads <n>', 'intra-op threads (default: available cores)', positiveInt)
    .option('--ep <provider>', 'execution provider: cpu or cuda', provider, 'cpu')
    .option('--baseline <other.onnx>', 'compare against this model, interleaved in one process')
    .option('--label <name>', 'name of the model in reports')
    .option('--baseline-label <name>', 'name of the baseline in reports')
    .option('--runs <n>', 'measured runs per batch size at most', positiveInt)
    .option('--min-runs <n>', 'measured runs per batch size at least, whatever the time budget', positiveInt)
    .option('--time-budget <seconds>', 'measuring time per batch size (and model)', seconds)
    .option(
      '--spinning',
      "let onnxruntime's threads spin between runs (the default for one model, as onnxruntime runs it)",
    )
    .option('--no-spinning', 'block them instead (the default for a comparison, where spinning biases)')
    .option('--fixed-order', 'diagnostic: always run the candidate first in a pair (puts the warm-cache bias back)')
    .option('--json', 'print the report as JSON on stdout')
    .option('--svg <file>', 'write the figure as SVG')
    .option('--out <file>', 'write the JSON report to a file')
    .action(async (model: string, opts: BenchOpts) => {
      const progress = progressReporter(process.stderr);
      const options: BenchmarkOptions = {
        batchSizes: opts.batch,
        executionProvider: opts.ep,
        ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
        ...(opts.runs !== undefined ? { maxRuns: opts.runs } : {}),
        ...(opts.minRuns !== undefined ? { minRuns: opts.minRuns } : {}),
        ...(opts.timeBudget !== undefined ? { timeBudgetMs: opts.timeBudget * 1000 } : {}),
        ...(opts.spinning !== undefined ? { allowSpinning: opts.spinning } : {}),
        ...(opts.fixedOrder ? { pairOrder: 'candidate-first' as const } : {}),
        inputs: {
          ...(opts.dims ? { dims: opts.dims } : {}),
          ...(opts.reference ? { reference: opts.reference } : {}),
        },
        onProgress: (p) => progress.update(p),
      };
      const candidate = { path: model, ...(opts.label ? { label: opts.label } : {}) };
      let report: LatencyReport | ComparisonReport;
      try {
        report = opts.baseline
          ? await compareModels(
              candidate,
              { path: opts.baseline, ...(opts.baselineLabel ? { label: opts.baselineLabel } : {}) },
              options,
            )
          : await benchmarkModel(candidate, options);
      } finally {
        progress.end();
      }
      const json = `${JSON.stringify(report, null, 2)}\n`;
      if (opts.out) writeFileSync(opts.out, json);
      if (opts.svg) {
        writeFileSync(
          opts.svg,
          await renderLatencySvg(report.kind === 'comparison' ? { comparison: report } : { reports: [report] }),
        );
      }
      if (opts.json) process.stdout.write(json);
      else process.stdout.write(report.kind === 'comparison' ? formatComparison(report) : formatLatencyReport(report));
      if (!opts.json && opts.svg) process.stdout.write(`figure: ${opts.svg}\n`);
    });
}
