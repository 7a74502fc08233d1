/**
 * `diagnose` as one call: the cases (a reference file's, else a synthetic one), the baseline (a
 * second graph, else PyTorch's intermediates), the layer errors, judged. What the CLI and the
 * pipeline call; it holds no logic of its own beyond choosing those pieces.
 */
import { DEFAULT_TOLERANCES } from '../common/export-contract';
import { DiagnoseError } from './diagnose-error';
import { casesFromReference, syntheticCase } from './diagnosis-cases';
import { judge, type Diagnosis, type Tolerances } from './diagnosis';
import { compareGraphIntermediates, openGraph } from './layer-errors';
import { compareWithReferenceIntermediates } from './reference-intermediates';

export interface DiagnoseOptions extends Partial<Tolerances> {
  /** Reference cases (their inputs feed both sides); also the intermediates when no other file is named. */
  readonly reference?: string;
  /** PyTorch's intermediates by `<case>/<module path>` (a forward hook's file). */
  readonly intermediates?: string;
  readonly maxChunkBytes?: number;
  readonly threads?: number;
}

export async function runDiagnosis(
  candidatePath: string,
  baselinePath: string | undefined,
  options: DiagnoseOptions = {},
): Promise<Diagnosis> {
  const start = process.hrtime.bigint();
  const tolerances = {
    mae: options.mae ?? DEFAULT_TOLERANCES.mae,
    maxAbs: options.maxAbs ?? DEFAULT_TOLERANCES.maxAbs,
  };
  if (baselinePath !== undefined && options.intermediates !== undefined)
    throw new DiagnoseError({
      file: candidatePath,
      subject: 'baseline',
      expected: 'one: a second graph or --intermediates',
      actual: `both (${baselinePath} and ${options.intermediates})`,
    });
  const intermediates = options.intermediates ?? options.reference;
  if (baselinePath === undefined && intermediates === undefined)
    throw new DiagnoseError({
      file: candidatePath,
      subject: 'baseline',
      expected: 'a second graph, or reference intermediates (--reference or --intermediates)',
      actual: 'none',
    });
  if (baselinePath === undefined && options.reference === undefined)
    throw new DiagnoseError({
      file: options.intermediates as string,
      subject: 'inputs',
      expected: 'the reference cases the intermediates were computed on (--reference <reference.safetensors>)',
      actual: 'none',
    });
  const model = await openGraph(candidatePath);
  const cases =
    options.reference !== undefined
      ? await casesFromReference(model, candidatePath, options.reference)
      : [syntheticCase(model, candidatePath)];
  const compare = { maxChunkBytes: options.maxChunkBytes, threads: options.threads };
  const { errors, unmatched } =
    baselinePath !== undefined
      ? await compareGraphIntermediates(candidatePath, baselinePath, cases, compare)
      : await compareWithReferenceIntermediates(candidatePath, intermediates as string, cases, compare);
  return {
    candidate: candidatePath,
    baseline: baselinePath ?? (intermediates as string),
    baselineKind: baselinePath !== undefined ? 'graph' : 'reference intermediates',
    cases: cases.map((c) => c.name),
    tolerances,
    ...judge(errors, tolerances),
    unmatched,
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
  };
}
