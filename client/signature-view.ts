/**
 * How the CLI shows a graph's signature (each input and output with its dtype and dimensions, the
 * symbolic ones by name) and a parity report (per output, then per case and split), for `status`,
 * `result` and `parity`. Text only: it reads reports, never computes them.
 */
import { describeTensor, type ModelSignature } from '../common/model-signature';
import type { CaseParity, OutputErrors, ParityReport } from '../parity/parity-report';

/** `  inputs     iq_data float32 [batch_size, receivers, 2, seq_len], mask bool [batch_size, receivers]`, then outputs. */
export function signatureLines(signature: ModelSignature, indent = '  '): string[] {
  const side = (specs: ModelSignature['inputs']) => specs.map((t) => describeTensor(signature, t)).join(', ');
  return [`${indent}inputs     ${side(signature.inputs)}`, `${indent}outputs    ${side(signature.outputs)}`];
}

function errorsText(e: OutputErrors): string {
  const nonFinite = e.nonFiniteOutputs > 0 ? `, ${e.nonFiniteOutputs} NaN/Inf` : '';
  return `MAE ${e.mae.toExponential(2)} max ${e.maxAbs.toExponential(2)}${nonFinite}`;
}

/** `case 'r4' (4 samples; receivers 4, seq_len 1024)`, or `the reference (2 samples)` for a one-case file. */
export function caseTitle(c: CaseParity): string {
  const dims = Object.entries(c.dims);
  const sizes = dims.length > 0 ? `; ${dims.map(([d, size]) => `${d} ${size}`).join(', ')}` : '';
  return `${c.name === '' ? 'the reference' : `case '${c.name}'`} (${c.samples} samples${sizes})`;
}

/** Per case, one line per way it was split: its runs, pass/fail, per output its errors or onnxruntime's error. */
export function parityCaseLines(report: ParityReport, indent = '  '): string[] {
  const lines: string[] = [];
  for (const c of report.cases ?? []) {
    lines.push(`${indent}${caseTitle(c)}: ${c.passed ? 'pass' : 'FAIL'}`);
    for (const s of c.splits) {
      const outputs = Object.entries(s.outputs)
        .filter(([, e]) => e.count > 0)
        .map(([name, e]) => `${name} ${errorsText(e)}`)
        .join('; ');
      const what = [outputs, s.error].filter((x) => x !== undefined && x !== '').join('; ');
      lines.push(
        `${indent}  ${s.splits.join(', ').padEnd(8)} runs ${s.batches.padEnd(8)} ${s.passed ? 'pass' : 'FAIL'}  ${what}`,
      );
    }
  }
  return lines;
}

/** One line: per output its worst errors over every case and split, and how many samples and cases. */
export function paritySummary(report: ParityReport): string {
  const outputs = Object.entries(report.outputs)
    .map(([name, e]) => `${name} ${errorsText(e)}`)
    .join('; ');
  const cases = report.cases?.length ?? 1;
  return `${outputs} (${report.samples} samples${cases > 1 ? `, ${cases} cases` : ''})`;
}
