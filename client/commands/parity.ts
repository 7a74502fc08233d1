/**
 * `onnx-export parity <model.onnx> --reference <reference.safetensors>`: onnxruntime-node against
 * PyTorch's outputs, every reference case whole, at batch 1 and split unevenly; exit code 1 on any
 * failure. Parses options and prints (per output, then per case and split); the work is parity/.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { ParityReport } from '../../parity';
import { DEFAULT_PARITY_BATCH, DEFAULT_TOLERANCES } from '../../parity/tolerances';
import { parseNonNegative } from '../option-parsers';
import { parityCaseLines } from '../signature-view';

export function register(program: Command): void {
  program
    .command('parity')
    .description(
      'run an ONNX model on reference inputs and compare with PyTorch outputs (MAE, max abs/rel error, NaN/Inf)',
    )
    .argument('<model.onnx>', 'ONNX model to check')
    .requiredOption(
      '--reference <reference.safetensors>',
      "the graph's inputs and outputs by name, each with a leading batch axis; or several cases as <case>/<name> (docs/export-contract.md)",
    )
    .option('--mae <x>', 'mean absolute error tolerance per output', parseNonNegative, DEFAULT_TOLERANCES.mae)
    .option('--max-abs <x>', 'max absolute error tolerance per output', parseNonNegative, DEFAULT_TOLERANCES.maxAbs)
    .option(
      '--batch-size <n>',
      'the most samples per onnxruntime run (each case also runs at batch 1 and split unevenly)',
      parseBatch,
      DEFAULT_PARITY_BATCH,
    )
    .option('--json', 'print the report as JSON')
    .action(
      async (
        model: string,
        opts: { reference: string; mae: number; maxAbs: number; batchSize: number; json?: boolean },
      ) => {
        // Loaded on use: onnxruntime's native library costs every other command ~0.2 s and ~100 MB.
        const { runParity } = await import('../../parity/run-parity.js');
        const report = await runParity(model, opts.reference, {
          mae: opts.mae,
          maxAbs: opts.maxAbs,
          batchSize: opts.batchSize,
        });
        process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatParity(report));
        if (!report.passed) process.exitCode = 1;
      },
    );
}

function parseBatch(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

export function formatParity(r: ParityReport): string {
  const cases = r.cases?.length ?? 1;
  const lines = [
    `${r.passed ? 'PASS' : 'FAIL'} ${r.model} vs ${r.reference} (${r.samples} samples${cases > 1 ? ` in ${cases} cases` : ''}; MAE <= ${r.tolerances.mae}, max abs <= ${r.tolerances.maxAbs})`,
  ];
  const width = Math.max(13, ...Object.keys(r.outputs).map((name) => name.length));
  for (const [name, e] of Object.entries(r.outputs)) {
    lines.push(
      `  ${name.padEnd(width)} MAE ${e.mae.toExponential(3)}  max abs ${e.maxAbs.toExponential(3)}  max rel ${e.maxRel.toExponential(3)}  NaN/Inf ${e.nonFiniteOutputs}`,
    );
  }
  lines.push(...parityCaseLines(r));
  if (r.unusedTensors?.length) lines.push(`  not used: ${r.unusedTensors.join(', ')}`);
  for (const f of r.failures) lines.push(`  ${f}`);
  return `${lines.join('\n')}\n`;
}
