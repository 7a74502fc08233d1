/**
 * Test helper: weights bundles made in TypeScript from an architecture's key → shape table, for the
 * plug-in tests that need real weights but no PyTorch (weight-check refusals, signatures, graphs run
 * in onnxruntime). Values are seeded: uniform in ±1/√fan_in as PyTorch's default Linear/Conv init,
 * BatchNorm running_var in [0.5, 1.5), LayerNorm/BatchNorm weights near 1. Tests only.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { tempDir } from './checkpoint-safetensors-writer';
import { writeSafetensors, type Entry } from './models-fixtures';

/** mulberry32: a small seeded generator, so every run writes the same bytes. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function valuesFor(name: string, shape: readonly number[], random: () => number): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : shape[0]!;
  const bound = 1 / Math.sqrt(fanIn);
  const uniform = (lo: number, hi: number) => Float32Array.from({ length: count }, () => lo + (hi - lo) * random());
  if (name.endsWith('running_var')) return uniform(0.5, 1.5);
  if (name.endsWith('running_mean')) return uniform(-0.1, 0.1);
  if (shape.length === 1 && /(norm|\.[14])\.weight$/.test(name)) return uniform(0.8, 1.2);
  return uniform(-bound, bound);
}

/** The table's tensors as F32 entries with seeded values, in table order. */
export function tableEntries(shapes: ReadonlyMap<string, readonly number[]>, seed = 1): Map<string, Entry> {
  const random = seeded(seed);
  const out = new Map<string, Entry>();
  for (const [name, shape] of shapes) {
    const v = valuesFor(name, shape, random);
    out.set(name, { dtype: 'F32', shape, data: new Uint8Array(v.buffer) });
  }
  return out;
}

/** A bundle dir holding config.json and model.safetensors (no reference: these bundles are emitted, not proved). */
export function tableBundle(config: Record<string, unknown>, entries: ReadonlyMap<string, Entry>): string {
  const dir = tempDir();
  writeSafetensors(join(dir, 'model.safetensors'), entries);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** Standard-normal float32 values from a seeded generator (Box–Muller). */
export function normal(count: number, seed: number): Float32Array {
  const random = seeded(seed);
  return Float32Array.from({ length: count }, () => {
    const u = 1 - random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
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
