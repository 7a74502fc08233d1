/**
 * A graph against PyTorch's own intermediates: a safetensors file whose keys are `<case>/<module
 * path>` (or `<module path>` for a file of one case), written by a forward hook on every module
 * (docs/export-contract.md has the snippet). A module path stands for the output of the last node
 * (topological order) of that module or of a module inside it, folds aside (module-outputs.ts);
 * a key that names a value of the graph
 * (an output such as `positions`) is that value. The graph runs a slice at a time and the file is read
 * a chunk of tensors at a time, so memory stays bounded as in layer-errors.ts.
 *
 * Keys that name neither a module nor a value of the graph are reported as unmatched; graph inputs
 * (a reference file's own inputs, when the intermediates sit in it) are skipped.
 *
 * Must not: judge the errors (diagnosis.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '../checkpoint';
import { DiagnoseError } from './diagnose-error';
import { compareInChunks, type ComparedPair } from './chunked-comparison';
import {
  comparableIn,
  DEFAULT_MAX_CHUNK_BYTES,
  feedsOf,
  openGraph,
  type CompareOptions,
  type DiagnosisCase,
  type TensorError,
} from './layer-errors';
import { moduleOutputs } from './module-outputs';
import { SegmentedGraph } from './segmented-graph';
import { caseDependentValues } from './tensor-matching';
import { valueSizes } from './value-sizes';

export async function compareWithReferenceIntermediates(
  candidatePath: string,
  intermediatesPath: string,
  cases: readonly DiagnosisCase[],
  options: Omit<CompareOptions, 'tensors'> = {},
): Promise<{ errors: TensorError[]; unmatched: string[] }> {
  const model = await openGraph(candidatePath);
  const file = await SafetensorsFile.open(intermediatesPath);
  const first = cases[0];
  if (first === undefined)
    throw new DiagnoseError({ file: candidatePath, subject: 'cases', expected: 'at least one case', actual: 'none' });
  const caseKey = oneCaseKey(file, first);
  const keyOf = (c: DiagnosisCase, name: string): string => {
    const key = c.name === '' ? caseKey : c.name;
    return key === '' ? name : `${key}/${name}`;
  };
  const prefix = caseKey === '' && first.name === '' ? '' : `${first.name === '' ? caseKey : first.name}/`;
  const names = file.tensors
    .map((t) => t.name)
    .filter((k) => k.startsWith(prefix) && (prefix !== '' || !k.includes('/')))
    .map((k) => k.slice(prefix.length));

  const work = await mkdtemp(join(tmpdir(), 'onnx-export-diagnose-'));
  const graph = new SegmentedGraph(candidatePath, model, work, 'candidate', options);
  try {
    const sizes = valueSizes(
      model,
      cases.map((c) => new Map([...c.inputs].map(([n, t]) => [n, t.dims]))),
    );
    const inputs = new Set(model.graph.inputs.map((v) => v.name));
    const dependent = caseDependentValues(model.graph, graph.order);
    const comparable = comparableIn(sizes);
    const lastOfModule = moduleOutputs(graph.order, (v) => dependent.has(v) && comparable(v));
    const byTensor = new Map<string, ComparedPair>();
    const unmatched: string[] = [];
    for (const name of names) {
      if (inputs.has(name)) continue;
      const tensor = graph.order.producer.has(name) ? name : lastOfModule.get(name);
      if (tensor === undefined || !comparable(tensor)) {
        unmatched.push(name);
        continue;
      }
      // Nested modules that end on the same node are one tensor: the innermost names it.
      const held = byTensor.get(tensor);
      if (held === undefined || held.baseline.length < name.length)
        byTensor.set(tensor, { candidate: tensor, baseline: name });
    }
    const pairs = [...byTensor.values()];
    if (pairs.length === 0)
      throw new DiagnoseError({
        file: intermediatesPath,
        subject: `keys${prefix === '' ? '' : ` of case '${first.name}'`}`,
        expected: `module paths or value names of ${candidatePath}`,
        actual:
          names.length === 0
            ? 'none'
            : `none of them (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`,
      });
    for (const c of cases)
      for (const p of pairs)
        if (file.tensors.every((t) => t.name !== keyOf(c, p.baseline)))
          throw new DiagnoseError({
            file: intermediatesPath,
            subject: `tensor '${keyOf(c, p.baseline)}'`,
            expected: `in every case, as in case '${first.name}'`,
            actual: 'none',
          });

    await graph.linkDataFiles();
    graph.start(
      cases.map(feedsOf),
      pairs.map((p) => p.candidate),
    );
    const { errors, shapeMismatches } = await compareInChunks(
      graph,
      sizes,
      pairs,
      options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES,
      async (chunk) => {
        const out = [];
        for (const c of cases) {
          const values = new Map<string, { dims: readonly number[]; values: Float32Array }>();
          for (const p of chunk) {
            const key = keyOf(c, p.baseline);
            const entry = file.require(key);
            if (entry.dtype !== 'F32')
              throw new DiagnoseError({
                file: intermediatesPath,
                subject: `tensor '${key}'.dtype`,
                expected: 'F32',
                actual: entry.dtype,
              });
            const rows = entry.shape[0] ?? 1;
            const values32 = await file.readFloat32Rows(key, 0, entry.shape.length === 0 ? 1 : rows);
            values.set(p.baseline, { dims: entry.shape, values: values32 });
          }
          out.push(values);
        }
        return out;
      },
    );
    return { errors, unmatched: [...unmatched, ...shapeMismatches] };
  } finally {
    graph.close();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The key prefix of a reference of one case (name ''): none when the file has bare keys; else the
 * file's one `<case>/` (the snippet always writes one), so a one-case reference can name its
 * intermediates either way.
 */
function oneCaseKey(file: SafetensorsFile, first: DiagnosisCase): string {
  if (first.name !== '') return first.name;
  const prefixes = new Set(file.tensors.map((t) => (t.name.includes('/') ? t.name.slice(0, t.name.indexOf('/')) : '')));
  const [only] = prefixes;
  return prefixes.size === 1 && only !== undefined ? only : '';
}
