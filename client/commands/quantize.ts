/**
 * `onnx-export quantize <model.onnx> --calibration <file.safetensors> -o <model.int8.onnx> [--json]`:
 * the int8 QDQ variant of an fp32 graph, offline (quantize/). Deterministic: the same model,
 * calibration file and method give the same bytes.
 *
 * With `--reference <reference.safetensors>` it is accuracy-aware, as the pipeline's int8 stage: the
 * graph is checked against the reference cases with the int8 gate (`--mae`, `--max-abs`, the int8
 * defaults), and while it misses, its most sensitive nodes are kept float (at most `--max-float` of
 * them). `--keep-float a,b` names nodes to keep float by hand.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_INT8_MAX_FLOAT_FRACTION, DEFAULT_INT8_TOLERANCES } from '../../common/export-contract';
import type { QuantizationReport } from '../../quantize';
import {
  CALIBRATION_METHODS,
  DEFAULT_CALIBRATION_METHOD,
  type CalibrationMethod,
} from '../../quantize/calibration-methods';

function method(value: string): CalibrationMethod {
  if (!(CALIBRATION_METHODS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected one of ${CALIBRATION_METHODS.join(', ')}`);
  }
  return value as CalibrationMethod;
}

/** A number in (min, 1] (or [0, 1] with `zero`), for the tolerances and the float share. */
function fraction(zero: boolean) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n > 1 || (zero ? n < 0 : n <= 0))
      throw new InvalidArgumentError(zero ? 'expected a number from 0 to 1' : 'expected a positive number at most 1');
    return n;
  };
}

interface QuantizeOptions {
  calibration: string;
  output: string;
  method: CalibrationMethod;
  reference?: string;
  mae: number;
  maxAbs: number;
  maxFloat: number;
  keepFloat?: string;
  json?: boolean;
}

async function quantize(path: string, opts: QuantizeOptions): Promise<QuantizationReport> {
  const request = {
    modelPath: path,
    calibrationPath: opts.calibration,
    outputPath: opts.output,
    method: opts.method,
    ...(opts.keepFloat ? { keepFloat: opts.keepFloat.split(',').map((n) => n.trim()) } : {}),
  };
  const reference = opts.reference;
  if (reference !== undefined && opts.keepFloat !== undefined)
    throw new InvalidArgumentError('--keep-float and --reference: the search chooses the float nodes itself; give one');
  if (reference === undefined) {
    const { quantizeOnnxFile } = await import('../../quantize/quantize-model.js');
    return quantizeOnnxFile(request);
  }
  const [{ quantizeAccuracyAware, SEARCH_THREADS }, { runParity, gateEvaluation }, { compareGraphIntermediates }] =
    await Promise.all([
      import('../../quantize/accuracy-aware.js'),
      import('../../parity/index.js'),
      import('../../diagnose/layer-errors.js'),
    ]);
  const gate = { mae: opts.mae, maxAbs: opts.maxAbs };
  const scratchDir = await mkdtemp(join(dirname(opts.output), '.quantize-rounds-'));
  try {
    return await quantizeAccuracyAware({
      ...request,
      referencePath: reference,
      gate,
      maxFloatFraction: opts.maxFloat,
      scratchDir,
      checkGate: async (p) => gateEvaluation(await runParity(p, reference, { ...gate, threads: SEARCH_THREADS })),
      compare: compareGraphIntermediates,
      onRound: (round) => {
        if (!opts.json) process.stderr.write(`  round ${round}\n`);
      },
    });
  } finally {
    await rm(scratchDir, { recursive: true, force: true });
  }
}

export function register(program: Command): void {
  program
    .command('quantize')
    .description(
      'write the int8 variant of an fp32 ONNX model: per-channel int8 weights and calibrated uint8 activations around Conv, Gemm and MatMul (QDQ)',
    )
    .argument('<model.onnx>', 'the fp32 graph (e.g. from `onnx-export emit`)')
    .requiredOption(
      '--calibration <file.safetensors>',
      "calibration inputs: every graph input by name with a leading batch axis, one case or several as <case>/<name> (a bundle's calibration.safetensors or reference.safetensors)",
    )
    .requiredOption('-o, --output <model.int8.onnx>', 'the int8 graph to write')
    .option(
      '--method <name>',
      `activation ranges: ${CALIBRATION_METHODS.join(', ')}`,
      method,
      DEFAULT_CALIBRATION_METHOD,
    )
    .option(
      '--reference <reference.safetensors>',
      'accuracy-aware: check the int8 graph against these reference cases (inputs and PyTorch outputs) and keep its most sensitive nodes float until it meets --mae and --max-abs',
    )
    .option('--mae <n>', 'accuracy-aware gate: most mean absolute error', fraction(false), DEFAULT_INT8_TOLERANCES.mae)
    .option(
      '--max-abs <n>',
      'accuracy-aware gate: most absolute error',
      fraction(false),
      DEFAULT_INT8_TOLERANCES.maxAbs,
    )
    .option(
      '--max-float <fraction>',
      'accuracy-aware: the most quantizable nodes kept float, as a share of them (0: none)',
      fraction(true),
      DEFAULT_INT8_MAX_FLOAT_FRACTION,
    )
    .option('--keep-float <nodes>', 'comma-separated Conv, Gemm or MatMul node names to keep float')
    .option('--json', 'print the report as JSON')
    .action(async (path: string, opts: QuantizeOptions) => {
      const report = await quantize(path, opts);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const byOp = (counts: Readonly<Record<string, number>>) =>
        Object.entries(counts)
          .map(([op, n]) => `${n} ${op}`)
          .join(', ');
      const nodes = byOp(report.quantizedNodes);
      const { scopes, nodes: scoped } = report.floatScopes;
      process.stdout.write(
        [
          `wrote ${report.output.path} (${report.output.bytes} bytes, ${report.sizeRatio.toFixed(3)}× the fp32 file, sha256 ${report.output.sha256})`,
          `  int8: ${nodes}; ${report.quantizedActivations} activations uint8 (${report.method}); ${report.floatNodes} nodes stay float32`,
          ...(scopes.length > 0
            ? [`  float by the graph's scopes (${scopes.join(', ')}): ${byOp(scoped) || 'none'}`]
            : []),
          ...(report.foldedWeights > 0 ? [`  ${report.foldedWeights} weights the graph computes folded first`] : []),
          ...(report.keptFloat && report.keptFloat.nodes.length > 0
            ? [`  kept float by name: ${report.keptFloat.nodes.join(', ')}`]
            : []),
          ...(report.accuracySearch ? [searchLine(report.accuracySearch)] : []),
          `  calibration: ${report.calibration.samples} samples${report.calibration.cases > 1 ? ` in ${report.calibration.cases} cases` : ''} of ${report.calibration.inputs.join(', ')} from ${report.calibration.path}, ${report.seconds.toFixed(2)} s`,
        ].join('\n') + '\n',
      );
    });
}

function searchLine(search: NonNullable<QuantizationReport['accuracySearch']>): string {
  const { reached } = search;
  const verdict = search.passed ? 'meets' : `misses (${search.stop})`;
  return (
    `  accuracy-aware: ${verdict} the gate MAE ≤ ${search.gate.mae}, max ≤ ${search.gate.maxAbs} with ` +
    `${search.floatNodes.length} of ${search.quantizable} quantizable nodes float (bound ${search.maxFloat}): ` +
    `MAE ${reached.mae.toExponential(3)}, max ${reached.maxAbs.toExponential(3)}; ${search.rounds.length} rounds, ` +
    `${search.rankings} rankings, ${search.seconds.toFixed(1)} s`
  );
}
