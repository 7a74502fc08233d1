/**
 * `onnx-export parity <model.onnx> --reference <reference.safetensors>`: onnxruntime-node against
 * PyTorch's outputs; exit code 1 over tolerance. Parses options and prints; the work is parity/.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { ParityReport } from '../../parity';
import { DEFAULT_PARITY_BATCH, DEFAULT_TOLERANCES } from '../../parity/tolerances';

export function register(program: Command): void {
  program
    .command('parity')
    .description(
      'run an ONNX model on reference inputs and compare with PyTorch outputs (MAE, max abs/rel error, NaN/Inf)',
    )
    .argument('<model.onnx>', 'ONNX model to check')
    .requiredOption(
      '--reference <reference.safetensors>',
      'mel_spectrogram [N,3,128,32], positions [N,2], uncertainties [N,2]',
    )
    .option('--mae <x>', 'mean absolute error tolerance per output', parsePositive, DEFAULT_TOLERANCES.mae)
    .option('--max-abs <x>', 'max absolute error tolerance per output', parsePositive, DEFAULT_TOLERANCES.maxAbs)
    .option('--batch-size <n>', 'samples per onnxruntime run', parseBatch, DEFAULT_PARITY_BATCH)
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

function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative number, got '${value}'`);
  return n;
}

function parseBatch(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

function formatParity(r: ParityReport): string {
  const lines = [
    `${r.passed ? 'PASS' : 'FAIL'} ${r.model} vs ${r.reference} (${r.samples} samples; MAE <= ${r.tolerances.mae}, max abs <= ${r.tolerances.maxAbs})`,
  ];
  for (const [name, e] of Object.entries(r.outputs)) {
    lines.push(
      `  ${name.padEnd(13)} MAE ${e.mae.toExponential(3)}  max abs ${e.maxAbs.toExponential(3)}  max rel ${e.maxRel.toExponential(3)}  NaN/Inf ${e.nonFiniteOutputs}`,
    );
  }
  for (const f of r.failures) lines.push(`  ${f}`);
  return `${lines.join('\n')}\n`;
}
