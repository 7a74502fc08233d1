/**
 * `onnx-export validate <model.onnx> [--json]`: structural validation, offline. Prints every problem
 * and exits non-zero on an invalid model; the work is onnx/validate.
 */
import type { Command } from 'commander';
import { formatShape } from '../../onnx/ir';
import type { ValidatedValue, ValidationReport } from '../../onnx/validate';
import { validateModelFile } from '../../onnx/validate';

export function register(program: Command): void {
  program
    .command('validate')
    .description(
      'check an ONNX model: topology, SSA, operators and attributes for its opset, initializer sizes, shapes',
    )
    .argument('<model.onnx>', 'ONNX file (external data is found next to it)')
    .option('--json', 'print the report as JSON')
    .action(async (path: string, opts: { json?: boolean }) => {
      const report = await validateModelFile(path);
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatValidation(report));
      if (!report.ok) process.exitCode = 1;
    });
}

function formatValue(v: ValidatedValue): string {
  const inferred =
    v.inferredShape !== undefined && formatShape(v.inferredShape) !== formatShape(v.shape)
      ? ` (inferred ${formatShape(v.inferredShape)})`
      : '';
  return `${v.name} ${v.dtype ?? '(untyped)'} ${formatShape(v.shape)}${inferred}`;
}

export function formatValidation(r: ValidationReport): string {
  const lines: string[] = [];
  if (r.ok) lines.push(`${r.path}: valid`);
  else
    lines.push(
      `${r.path}: invalid, ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}:`,
      ...r.problems.map((p) => `  - ${p.message}`),
    );
  if (r.opset !== undefined) {
    lines.push(
      `  opset ${r.opset} (IR ${r.irVersion}), ${r.nodes} nodes, ${r.initializers} initializers, producer ${r.producer || '(none)'}`,
    );
    for (const v of r.inputs ?? []) lines.push(`  input  ${formatValue(v)}`);
    for (const v of r.outputs ?? []) lines.push(`  output ${formatValue(v)}`);
    for (const f of r.externalDataFiles ?? []) lines.push(`  external data ${f}`);
  }
  lines.push(`  sha256 ${r.sha256}`);
  return `${lines.join('\n')}\n`;
}
