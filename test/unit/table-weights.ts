/**
 * Test helper: weights bundles made in TypeScript (no PyTorch) from an architecture's key → shape
 * table, for plug-in tests that prove structure and PyTorch-independent properties, never parity:
 * seeded values at the scales PyTorch initialises (Linear/Conv weights U(±1/√fan_in), norms' scales
 * near 1, BatchNorm variances in [0.5, 1.5]); bundles from them; a reference whose outputs are the
 * emitted graph's own (for tests of names and shapes); seeded inputs; and a run in onnxruntime. Tests only.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { emitBundle } from '../../models';
import { tempDir } from './checkpoint-safetensors-writer';
import { writeSafetensors, type Entry } from './models-fixtures';
import { uniform } from './signature-test-graphs';

/** Seeded uniform numbers in [0, 1): the same weights and inputs on every run. */
export function seededRandom(seed: number): () => number {
  const next = uniform(seed);
  return () => (next() + 1) / 2;
}

export const bytesOf = (a: Float32Array | BigInt64Array | Uint8Array): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * One tensor's seeded values: Linear/Conv weights U(±bound) (default 1/√fan_in), 1-D weights (norms'
 * scales) U(0.8, 1.2), 1-D biases U(±0.1), BatchNorm running means U(±0.1) and variances U(0.5, 1.5).
 */
export function seededValues(name: string, shape: readonly number[], next: () => number, bound?: number): Float32Array {
  const n = shape.reduce((a, d) => a * d, 1);
  const u = (lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
  if (name.endsWith('running_var')) return u(0.5, 1.5);
  if (name.endsWith('running_mean')) return u(-0.1, 0.1);
  if (shape.length === 1) return name.endsWith('.weight') ? u(0.8, 1.2) : u(-0.1, 0.1);
  const b = bound ?? 1 / Math.sqrt(shape.slice(1).reduce((a, d) => a * d, 1));
  return u(-b, b);
}

/** The table's tensors as F32 entries with seeded values, in table order. */
export function tableEntries(shapes: ReadonlyMap<string, readonly number[]>, seed = 1): Map<string, Entry> {
  const next = seededRandom(seed);
  const out = new Map<string, Entry>();
  for (const [name, shape] of shapes) {
    out.set(name, { dtype: 'F32', shape, data: bytesOf(seededValues(name, shape, next)) });
  }
  return out;
}

/** A bundle dir holding config.json and model.safetensors (add a reference with `withOwnReference`). */
export function tableBundle(config: Record<string, unknown>, entries: ReadonlyMap<string, Entry>): string {
  const dir = tempDir();
  writeSafetensors(join(dir, 'model.safetensors'), entries);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

const SAFETENSORS_DTYPES: Readonly<Record<string, string>> = { float32: 'F32', int64: 'I64', bool: 'BOOL' };

/**
 * Writes `dir`/reference.safetensors with `cases` (name → inputs) and the outputs of the graph emitted
 * from `dir`, run by onnxruntime: a reference that proves names and shapes, never parity. Returns `dir`.
 */
export async function withOwnReference(
  dir: string,
  cases: Readonly<Record<string, Record<string, ort.Tensor>>>,
): Promise<string> {
  const graph = join(tempDir(), 'model.onnx');
  await emitBundle(dir, graph);
  const session = await ort.InferenceSession.create(graph);
  const reference = new Map<string, Entry>();
  try {
    for (const [name, feeds] of Object.entries(cases)) {
      const outputs = await session.run(feeds);
      for (const [key, t] of [...Object.entries(feeds), ...Object.entries(outputs)]) {
        const data = t.data as Float32Array | BigInt64Array | Uint8Array;
        reference.set(`${name}/${key}`, {
          dtype: SAFETENSORS_DTYPES[t.type] ?? t.type,
          shape: t.dims,
          data: bytesOf(data),
        });
      }
    }
  } finally {
    await session.release();
  }
  writeSafetensors(join(dir, 'reference.safetensors'), reference);
  return dir;
}

/** Standard-normal float32 values from a seeded generator (Box–Muller). */
export function normal(count: number, seed: number): Float32Array {
  const next = seededRandom(seed);
  return Float32Array.from({ length: count }, () => {
    const u = 1 - next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  });
}

/** A bool mask [batch, receivers] with `masked(b, i)` True where a receiver is masked. */
export function maskTensor(batch: number, receivers: number, masked: (b: number, i: number) => boolean): ort.Tensor {
  const data = Uint8Array.from({ length: batch * receivers }, (_, k) =>
    masked(Math.floor(k / receivers), k % receivers) ? 1 : 0,
  );
  return new ort.Tensor('bool', data, [batch, receivers]);
}

/** Runs an ONNX file on `feeds` and returns its outputs as plain arrays with their dims. */
export async function runGraph(
  path: string,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, { dims: readonly number[]; data: Float32Array }>> {
  const session = await ort.InferenceSession.create(path);
  try {
    const results = await session.run(feeds);
    return Object.fromEntries(
      Object.entries(results).map(([k, t]) => [k, { dims: t.dims, data: t.data as Float32Array }]),
    );
  } finally {
    await session.release();
  }
}

/** Largest absolute difference between two arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}
