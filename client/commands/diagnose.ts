/**
 * `onnx-export diagnose <a.onnx> [<b.onnx>] [--reference ref.safetensors] [--intermediates file]`:
 * where a graph parts from its baseline (a second graph, or PyTorch's intermediates), layer by layer:
 * the first tensor over the tolerance with its node, op and module path, the per-layer table, and
 * with --svg the plot of error by depth. Exit code 1 when the graphs diverge (as parity's on a
 * failure). Parses options and prints; the work is diagnose/.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Diagnosis } from '../../diagnose/diagnosis';
import { DEFAULT_TOLERANCES } from '../../parity/tolerances';
import { parseNonNegative, parsePositive } from '../option-parsers';

/** Unmatched layers named in the text output (a torch-exported graph can have hundreds). */
const UNMATCHED_SHOWN = 12;

interface DiagnoseFlags {
  reference?: string;
  intermediates?: string;
  mae: number;
  maxAbs: number;
  svg?: string;
  json?: boolean;
  maxChunkMb?: number;
}

export function register(program: Command): void {
  program
    .command('diagnose')
    .description(
      'find the first layer where a graph parts from a second graph or from PyTorch intermediates (per-layer errors, SVG plot)',
    )
    .argument('<a.onnx>', 'the graph to diagnose')
    .argument(
      '[b.onnx]',
      'the baseline graph (e.g. the fp32 graph of an int8 one); tensors pair by name, else module path',
    )
    .option(
      '--reference <reference.safetensors>',
      "reference cases whose inputs feed both sides (default: one synthetic case); without b.onnx, its '<case>/<module path>' keys are the baseline",
    )
    .option(
      '--intermediates <file>',
      "PyTorch's intermediates ('<case>/<module path>' keys, a forward hook's file: docs/export-contract.md), for the --reference cases",
    )
    .option('--mae <x>', 'MAE tolerance per tensor', parseNonNegative, DEFAULT_TOLERANCES.mae)
    .option('--max-abs <x>', 'max absolute error tolerance per tensor', parseNonNegative, DEFAULT_TOLERANCES.maxAbs)
    .option('--svg <out.svg>', 'write the plot of error by depth here')
    .option('--max-chunk-mb <n>', 'the most MiB of compared tensors and weights held at once, per graph', parsePositive)
    .option('--json', 'print the diagnosis as JSON')
    .action(async (a: string, b: string | undefined, opts: DiagnoseFlags) => {
      // Loaded on use: onnxruntime's native library costs every other command ~0.2 s and ~100 MB.
      const { runDiagnosis, errorPlotSvg } = await import('../../diagnose/index.js');
      const diagnosis = await runDiagnosis(a, b, {
        ...(opts.reference !== undefined ? { reference: opts.reference } : {}),
        ...(opts.intermediates !== undefined ? { intermediates: opts.intermediates } : {}),
        mae: opts.mae,
        maxAbs: opts.maxAbs,
        ...(opts.maxChunkMb !== undefined ? { maxChunkBytes: opts.maxChunkMb * 1024 * 1024 } : {}),
      });
      if (opts.svg !== undefined) await writeFile(opts.svg, errorPlotSvg(diagnosis));
      process.stdout.write(
        opts.json ? `${JSON.stringify(diagnosis, null, 2)}\n` : formatDiagnosis(diagnosis, opts.svg),
      );
      if (diagnosis.firstDivergence !== undefined) process.exitCode = 1;
    });
}

export function formatDiagnosis(d: Diagnosis, svg?: string): string {
  const f = d.firstDivergence;
  const cases = d.cases.length === 1 ? `case ${d.cases[0] || '(the only one)'}` : `${d.cases.length} cases`;
  const lines = [
    `${f ? 'DIVERGES' : 'SAME'} ${d.candidate} vs ${d.baseline} (${d.baselineKind}; ${cases}; ${d.tensors.length} tensors compared; MAE <= ${d.tolerances.mae}, max abs <= ${d.tolerances.maxAbs})`,
  ];
  if (f !== undefined) {
    const why =
      f.nonFinite > 0
        ? `${f.nonFinite} NaN/Inf`
        : `MAE ${f.mae.toExponential(3)}, max abs ${f.maxAbs.toExponential(3)}`;
    lines.push(
      `  first divergence at \`${f.modulePath || f.node}\`: node ${f.node} (${f.op}), tensor ${f.tensor}: ${why}`,
    );
  }
  const width = Math.max(6, ...d.layers.map((l) => (l.modulePath || l.node).length));
  lines.push(
    `  ${'depth'.padStart(6)}  ${'layer'.padEnd(width)}  ${'op'.padEnd(18)}  ${'MAE'.padEnd(10)}  ${'max abs'.padEnd(10)}  ${'rel MAE'.padEnd(10)}  NaN/Inf`,
  );
  for (const l of d.layers) {
    const rel = l.baselineMeanAbs > 0 ? (l.mae / l.baselineMeanAbs).toExponential(2) : '-';
    const mark =
      l === f || (f !== undefined && l.tensor === f.tensor) ? '  <- first divergence' : l.aboveTolerance ? '  !' : '';
    lines.push(
      `  ${String(l.depth).padStart(6)}  ${(l.modulePath || l.node).padEnd(width)}  ${l.op.padEnd(18)}  ${l.mae.toExponential(3).padEnd(10)}  ${l.maxAbs.toExponential(3).padEnd(10)}  ${rel.padEnd(10)}  ${l.nonFinite}${mark}`,
    );
  }
  if (d.unmatched.length > 0) {
    const shown = d.unmatched.slice(0, UNMATCHED_SHOWN).join(', ');
    const more = d.unmatched.length > UNMATCHED_SHOWN ? `, … (all ${d.unmatched.length} in --json)` : '';
    lines.push(`  unmatched (${d.unmatched.length}): ${shown}${more}`);
  }
  if (svg !== undefined) lines.push(`  plot: ${svg}`);
  lines.push(`  ${d.seconds.toFixed(1)} s`);
  return `${lines.join('\n')}\n`;
}
