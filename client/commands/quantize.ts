/**
 * `onnx-export quantize <model.onnx> --calibration <file.safetensors> -o <model.int8.onnx> [--json]`:
 * the int8 QDQ variant of an fp32 graph, offline (quantize/). Deterministic: the same model,
 * calibration file and method give the same bytes.
 */
import { InvalidArgumentError, type Command } from 'commander';
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
    .option('--json', 'print the report as JSON')
    .action(
      async (
        path: string,
        opts: { calibration: string; output: string; method: CalibrationMethod; json?: boolean },
      ) => {
        const { quantizeOnnxFile } = await import('../../quantize/quantize-model.js');
        const report = await quantizeOnnxFile({
          modelPath: path,
          calibrationPath: opts.calibration,
          outputPath: opts.output,
          method: opts.method,
        });
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
            `  calibration: ${report.calibration.samples} samples${report.calibration.cases > 1 ? ` in ${report.calibration.cases} cases` : ''} of ${report.calibration.inputs.join(', ')} from ${report.calibration.path}, ${report.seconds.toFixed(2)} s`,
          ].join('\n') + '\n',
        );
      },
    );
}
