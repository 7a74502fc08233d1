/**
 * Layer by layer: runs a candidate graph and a baseline graph on the same cases and measures, for
 * every intermediate tensor they share, how far the candidate's values are from the baseline's.
 * Both graphs run a slice at a time (segmented-graph.ts); the tensors to compare are taken in the
 * candidate's topological order, a chunk of at most `maxChunkBytes` at a time (their estimated bytes
 * over every case, plus the weights of the candidate's nodes that chunk spans), compared and dropped
 * before the next chunk runs. Tensors pair up by name, else by module path (tensor-matching.ts); only
 * floats are compared.
 *
 * This is the contract the int8 fallback and the `diagnose` command build on. Must not: judge the
 * errors against a tolerance (diagnosis.ts does), or write anything but its temporary slices.
 */
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Model } from '../onnx/ir';
import { readModel } from '../onnx/serialize-read';
import { DiagnoseError } from './diagnose-error';
import { SegmentedGraph, type CaseValuesMap } from './segmented-graph';
import { compareInChunks } from './chunked-comparison';
import { FLOAT_TYPES, floatValues, type TensorError } from './tensor-errors';
import { matchTensors, type TensorPair } from './tensor-matching';
import { valueSizes, type ValueSizes } from './value-sizes';

/** One case's inputs, by graph input name (the reference case's tensors, batch first). */
export interface DiagnosisCase {
  readonly name: string;
  readonly inputs: ReadonlyMap<string, { dims: readonly number[]; values: Float32Array | BigInt64Array | Uint8Array }>;
}

export type { TensorError } from './tensor-errors';

export interface CompareOptions {
  /** Only these of the candidate's tensors (default: every float intermediate it shares with the baseline). */
  readonly tensors?: readonly string[];
  /** The most bytes of compared tensors (and spanned weights) held per chunk, per graph (default 256 MiB). */
  readonly maxChunkBytes?: number;
  /** onnxruntime intra-op threads. */
  readonly threads?: number;
}

/**
 * 256 MiB: a few of convnext_large's early feature maps at batch 8 (each 8 × 192 × 56 × 56 floats ≈
 * 19 MB), or a quarter of its weights; both graphs together then stay well under one parity run's
 * peak, which holds every weight at once.
 */
export const DEFAULT_MAX_CHUNK_BYTES = 256 * 1024 * 1024;

export async function compareGraphIntermediates(
  candidatePath: string,
  baselinePath: string,
  cases: readonly DiagnosisCase[],
  options: CompareOptions = {},
): Promise<{ errors: TensorError[]; unmatched: string[] }> {
  if (cases.length === 0)
    throw new DiagnoseError({ file: candidatePath, subject: 'cases', expected: 'at least one case', actual: 'none' });
  const [candidate, baseline] = [await openGraph(candidatePath), await openGraph(baselinePath)];
  const caseDims = cases.map((c) => new Map([...c.inputs].map(([name, t]) => [name, t.dims])));
  const candSizes = valueSizes(candidate, caseDims);
  const baseSizes = valueSizes(baseline, caseDims);
  const work = await mkdtemp(join(tmpdir(), 'onnx-export-diagnose-'));
  const cand = new SegmentedGraph(candidatePath, candidate, work, 'candidate', options);
  const base = new SegmentedGraph(baselinePath, baseline, work, 'baseline', options);
  try {
    const match = matchTensors(
      { graph: candidate.graph, order: cand.order, comparable: comparableIn(candSizes) },
      { graph: baseline.graph, order: base.order, comparable: comparableIn(baseSizes) },
    );
    const pairs = selectPairs(match.pairs, options.tensors, candidatePath);
    if (pairs.length === 0)
      throw new DiagnoseError({
        file: candidatePath,
        subject: 'intermediate tensors',
        expected: `float tensors in common with ${baselinePath} (by name or module path)`,
        actual: 'none in common',
      });
    await cand.linkDataFiles();
    await base.linkDataFiles();
    cand.start(
      cases.map(feedsOf),
      pairs.map((p) => p.candidate),
    );
    base.start(
      cases.map(feedsOf),
      pairs.map((p) => p.baseline),
    );
    const { errors, shapeMismatches } = await compareInChunks(
      cand,
      candSizes,
      pairs,
      options.maxChunkBytes ?? DEFAULT_MAX_CHUNK_BYTES,
      async (chunk) => {
        const values = await base.take(chunk.map((p) => p.baseline));
        return values.map((v) => {
          const out = new Map<string, { dims: readonly number[]; values: ArrayLike<number> }>();
          for (const [name, t] of v) {
            const floats = floatValues(t);
            if (floats !== undefined) out.set(name, { dims: t.dims, values: floats });
          }
          return out;
        });
      },
    );
    return { errors, unmatched: [...match.unmatched, ...shapeMismatches] };
  } finally {
    cand.close();
    base.close();
    await rm(work, { recursive: true, force: true });
  }
}

/** Reads a graph, naming the file when it is missing or not a model. */
export async function openGraph(path: string): Promise<Model> {
  try {
    await access(path);
  } catch {
    throw new DiagnoseError({ file: path, subject: 'graph', expected: 'an ONNX file', actual: 'no such file' });
  }
  try {
    return await readModel(path);
  } catch (err) {
    throw new DiagnoseError({
      file: path,
      subject: 'graph',
      expected: 'an ONNX model',
      actual: err instanceof Error ? err.message : String(err),
    });
  }
}

/** A value is compared if it is a float, or of a type inference does not know (checked when it runs). */
export function comparableIn(sizes: ValueSizes): (value: string) => boolean {
  return (value) => {
    const dtype = sizes.dtype(value);
    return dtype === undefined || FLOAT_TYPES.has(dtype);
  };
}

function selectPairs(
  pairs: readonly TensorPair[],
  tensors: readonly string[] | undefined,
  file: string,
): readonly TensorPair[] {
  if (tensors === undefined) return pairs;
  const byName = new Map(pairs.map((p) => [p.candidate, p]));
  return tensors.map((t) => {
    const p = byName.get(t);
    if (p === undefined)
      throw new DiagnoseError({
        file,
        subject: `tensor '${t}'`,
        expected: 'a float intermediate the baseline also has',
        actual: 'no such tensor in common',
      });
    return p;
  });
}

/** The cases' inputs as onnxruntime tensors (bool inputs are bytes). */
export function feedsOf(c: DiagnosisCase): CaseValuesMap {
  const feeds: CaseValuesMap = new Map();
  for (const [name, { dims, values }] of c.inputs) {
    const type = values instanceof Float32Array ? 'float32' : values instanceof BigInt64Array ? 'int64' : 'bool';
    feeds.set(name, new ort.Tensor(type, values, dims));
  }
  return feeds;
}
