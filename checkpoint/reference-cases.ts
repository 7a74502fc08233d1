/**
 * Reference cases: a safetensors file (a bundle's reference.safetensors or calibration.safetensors)
 * holding one case or several of a graph's inputs and outputs, checked against the graph's signature
 * before anything runs, then read a few rows at a time by positioned I/O.
 *
 * - One case: the keys are the graph's input and output names.
 * - Several: every key is `<case>/<name>` (a case name is letters, digits, `_`, `.`, `-`); cases are
 *   taken in name order. Mixing the two forms is refused.
 * - Every tensor has a leading batch axis; within a case all tensors share one batch B ≥ 1, and a
 *   symbolic dimension (e.g. `receivers`) has one size. Each case has its own sizes.
 * - dtypes: F32, I64, BOOL for the graph's float32, int64, bool, exactly; rank and fixed dimensions
 *   are the graph's (the batch axis excepted: a graph that bakes its batch fails when run, not here).
 * - Keys that are neither an input nor an output are tolerated and listed as `unused`.
 *
 * Every refusal is a ReferenceCaseError naming the file, the case (when several), the tensor, what was
 * expected and what was found. It must not run models, judge values, or read a whole file.
 */
import { tensorDims, type ModelSignature, type SignatureDim, type TensorSpec } from '../common/model-signature';
import { formatShape } from './checkpoint-error';
import { ReferenceCaseError, type ReferenceCaseErrorContext } from './reference-case-error';
import type { SafetensorsDtype } from './safetensors-dtypes';
import { SafetensorsFile } from './safetensors-file';
import type { TensorEntry } from './safetensors-header';

/** A case name: the `<case>` of `<case>/<name>`. */
export const CASE_NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** The file dtype that holds each graph dtype a reference can carry. */
export const CASE_FILE_DTYPES = { float32: 'F32', int64: 'I64', bool: 'BOOL' } as const satisfies Record<
  string,
  SafetensorsDtype
>;
export type CaseDtype = keyof typeof CASE_FILE_DTYPES;

/** Values of a tensor's rows: F32 as Float32Array, I64 as BigInt64Array, BOOL as one byte (0 or 1) each. */
export type CaseValues = Float32Array | BigInt64Array | Uint8Array;

export interface CaseTensor {
  /** The graph's name for it. */
  readonly name: string;
  /** Its key in the file (`<case>/<name>` or `<name>`). */
  readonly key: string;
  readonly role: 'input' | 'output';
  readonly dtype: CaseDtype;
  /** Its shape in the file, the batch first. */
  readonly shape: readonly number[];
}

export interface ReferenceCase {
  /** The case's name; '' when the file holds one case. */
  readonly name: string;
  readonly batch: number;
  /** The size of each named symbolic dimension in this case (the batch's name included), in order of first appearance. */
  readonly dims: Readonly<Record<string, number>>;
  /** Its tensors by graph name, inputs first, in signature order. */
  readonly tensors: ReadonlyMap<string, CaseTensor>;
}

export interface ReferenceCases {
  readonly path: string;
  readonly form: 'one case' | 'several cases';
  /** In name order. */
  readonly cases: readonly ReferenceCase[];
  /** Samples over every case. */
  readonly samples: number;
  /** Keys that are neither an input nor an output of the graph, in file order. */
  readonly unused: readonly string[];
  /** Rows [start, start + count) of a case's tensor (by graph name). */
  rows(c: ReferenceCase, tensor: string, start: number, count: number): Promise<CaseValues>;
}

export interface OpenReferenceCasesOptions {
  /** `inputs`: only the graph's inputs are required and checked (calibration files). Default: both. */
  readonly tensors?: 'inputs and outputs' | 'inputs';
}

interface Spec {
  readonly spec: TensorSpec;
  readonly role: 'input' | 'output';
  readonly dims: readonly SignatureDim[];
}

/** `case 'r4': ` before a subject when the file holds several cases, else nothing. */
export function casePrefix(c: Pick<ReferenceCase, 'name'>): string {
  return c.name === '' ? '' : `case '${c.name}': `;
}

export async function openReferenceCases(
  path: string,
  signature: ModelSignature,
  options: OpenReferenceCasesOptions = {},
): Promise<ReferenceCases> {
  const specs: Spec[] = [
    ...signature.inputs.map((spec) => ({ spec, role: 'input' as const })),
    ...(options.tensors === 'inputs' ? [] : signature.outputs.map((spec) => ({ spec, role: 'output' as const }))),
  ].map((s) => ({ ...s, dims: tensorDims(signature, s.spec) }));
  for (const { spec, role, dims } of specs) {
    if (!(spec.dtype in CASE_FILE_DTYPES)) {
      throw new ReferenceCaseError({
        file: path,
        subject: `graph ${role} '${spec.name}'`,
        expected: 'float32, int64 or bool (float16 is reserved: no stage feeds or compares it yet)',
        actual: spec.dtype,
        problem: 'graph-dtype',
        tensor: spec.name,
        role,
        graphDims: dims,
      });
    }
  }
  const file = await SafetensorsFile.open(path);
  const graphNames = new Set([...signature.inputs, ...signature.outputs].map((t) => t.name));
  const { form, groups, unused } = groupKeys(file, graphNames);
  const cases = [...groups]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, entries]) => checkCase(path, form, name, entries, specs));
  return {
    path,
    form,
    cases,
    samples: cases.reduce((n, c) => n + c.batch, 0),
    unused,
    async rows(c, tensor, start, count) {
      const t = c.tensors.get(tensor);
      if (t === undefined) throw new Error(`internal: ${casePrefix(c)}no tensor '${tensor}' in ${path}`);
      const bytes = await file.readRows(t.key, start, count);
      if (t.dtype === 'float32') return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      if (t.dtype === 'int64') return new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    },
  };
}

/** The file's keys by case: its form, each case's tensors by name, and the keys the graph does not name. */
function groupKeys(
  file: SafetensorsFile,
  graphNames: ReadonlySet<string>,
): { form: ReferenceCases['form']; groups: Map<string, Map<string, TensorEntry>>; unused: string[] } {
  const bare: TensorEntry[] = [];
  const cased: TensorEntry[] = [];
  for (const t of file.tensors) (graphNames.has(t.name) || !t.name.includes('/') ? bare : cased).push(t);
  const first = (ts: TensorEntry[]) => ts[0]?.name ?? '';
  if (bare.length > 0 && cased.length > 0) {
    throw new ReferenceCaseError({
      file: file.path,
      subject: 'keys',
      expected: "the graph's tensor names (one case) or '<case>/<name>' for every key (several cases)",
      actual: `'${first(bare)}' beside '${first(cased)}'`,
      problem: 'mixed-forms',
    });
  }
  const unused: string[] = [];
  const groups = new Map<string, Map<string, TensorEntry>>();
  if (cased.length === 0) {
    groups.set('', new Map(bare.map((t) => [t.name, t])));
    unused.push(...bare.filter((t) => !graphNames.has(t.name)).map((t) => t.name));
    return { form: 'one case', groups, unused };
  }
  for (const t of cased) {
    const slash = t.name.indexOf('/');
    const caseName = t.name.slice(0, slash);
    const name = t.name.slice(slash + 1);
    if (!CASE_NAME_PATTERN.test(caseName)) {
      throw new ReferenceCaseError({
        file: file.path,
        subject: `tensor '${t.name}'`,
        expected: "'<case>/<name>' with a case name of letters, digits, '_', '.' or '-'",
        actual: `case name '${caseName}'`,
        problem: 'case-name',
      });
    }
    let group = groups.get(caseName);
    if (group === undefined) groups.set(caseName, (group = new Map()));
    group.set(name, t);
    if (!graphNames.has(name)) unused.push(t.name);
  }
  return { form: 'several cases', groups, unused };
}

/** `[N, 3, 128, 32]`, `[N, receivers, 2, seq_len]`: a tensor's shape as the graph has it, the batch as N. */
/** The graph's dims as a reference tensor must have them: the batch as `N` (or `rows`, when the tensor's own batch is meant). */
function expectedShape(
  dims: readonly SignatureDim[],
  bind: ReadonlyMap<string, number> = new Map(),
  rows?: number,
): string {
  const rest = dims.slice(1).map((d) => {
    if (d === '') return '?';
    const bound = typeof d === 'string' ? bind.get(d) : undefined;
    return bound === undefined ? String(d) : `${d}=${bound}`;
  });
  return `[${[rows === undefined ? 'N' : String(rows), ...rest].join(', ')}]`;
}

function checkCase(
  path: string,
  form: ReferenceCases['form'],
  caseName: string,
  entries: ReadonlyMap<string, TensorEntry>,
  specs: readonly Spec[],
): ReferenceCase {
  const where = casePrefix({ name: caseName });
  const keyOf = (name: string) => (form === 'several cases' ? `${caseName}/${name}` : name);
  let batch: { size: number; key: string } | undefined;
  const dims = new Map<string, { size: number; key: string }>();
  const tensors = new Map<string, CaseTensor>();
  for (const { spec, role, dims: graphDims } of specs) {
    const key = keyOf(spec.name);
    const dtype = spec.dtype as CaseDtype;
    const fileDtype = CASE_FILE_DTYPES[dtype];
    const context: Omit<ReferenceCaseErrorContext, 'subject' | 'expected' | 'actual' | 'problem'> = {
      file: path,
      ...(form === 'several cases' ? { caseName } : {}),
      tensor: spec.name,
      role,
      graphDims,
    };
    const entry = entries.get(spec.name);
    if (entry === undefined) {
      throw new ReferenceCaseError({
        ...context,
        subject: `${where}tensor '${key}'`,
        expected: `present (${fileDtype} ${expectedShape(graphDims)} with N >= 1)`,
        actual: 'missing',
        problem: 'missing',
        present: [...entries.values()].map((e) => e.name),
      });
    }
    if (entry.dtype !== fileDtype) {
      throw new ReferenceCaseError({
        ...context,
        subject: `${where}tensor '${key}'.dtype`,
        expected: `${fileDtype} (the graph's ${role} '${spec.name}' is ${dtype})`,
        actual: entry.dtype,
        problem: 'dtype',
      });
    }
    const shapeError = (problem: ReferenceCaseError['problem'], expected: string) =>
      new ReferenceCaseError({
        ...context,
        subject: `${where}tensor '${key}'.shape`,
        expected,
        actual: formatShape(entry.shape),
        problem,
        fileShape: entry.shape,
      });
    const plain = `${expectedShape(graphDims)} with N >= 1`;
    if (entry.shape.length !== graphDims.length) throw shapeError('rank', plain);
    if (entry.shape[0] === 0) throw shapeError('empty-batch', plain);
    if (graphDims.some((d, i) => i > 0 && typeof d === 'number' && d !== entry.shape[i])) {
      // An output is PyTorch's answer for the case's rows, so it is shown with its own batch
      // (`expected [8, 2], got [8, 3]`); an input with any batch (`[N, 3, 128, 32] with N >= 1`).
      throw shapeError('fixed-dim', role === 'output' ? expectedShape(graphDims, new Map(), entry.shape[0]) : plain);
    }
    const rows = entry.shape[0] as number;
    if (batch !== undefined && rows !== batch.size) {
      const bound = `[${[batch.size, ...entry.shape.slice(1)].join(', ')}]`;
      throw shapeError('batch', `${bound}: the case's batch ${batch.size}, as '${batch.key}'`);
    }
    batch ??= { size: rows, key };
    for (let i = 0; i < graphDims.length; i++) {
      const d = graphDims[i];
      if (typeof d !== 'string' || d === '') continue;
      const size = entry.shape[i] as number;
      const seen = dims.get(d);
      if (seen === undefined) dims.set(d, { size, key });
      else if (seen.size !== size) {
        const bind = new Map([[d, seen.size]]);
        throw shapeError('symbolic-dim', `${expectedShape(graphDims, bind)}: ${d} is ${seen.size} in '${seen.key}'`);
      }
    }
    tensors.set(spec.name, { name: spec.name, key, role, dtype, shape: entry.shape });
  }
  return {
    name: caseName,
    batch: batch?.size ?? 0,
    dims: Object.fromEntries([...dims].map(([d, v]) => [d, v.size])),
    tensors,
  };
}
