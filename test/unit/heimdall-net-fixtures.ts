/**
 * Test helper: HeimdallNet weights made in TypeScript (no PyTorch) for the unit tests: every tensor of
 * the spec's table for a layout, seeded uniform values at a Linear's usual scale, BatchNorm statistics
 * that are not the identity; bundles from them; and inputs for the graph. Values are arbitrary, so
 * what they prove is structure and PyTorch-independent properties of the network, never parity
 * (test/integration/heimdall-net-parity.test.ts does that). Tests only.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { emitBundle } from '../../models';
import { expectedShapes, type HeimdallNetLayout } from '../../models/heimdall_net';
import { tempDir } from './checkpoint-safetensors-writer';
import { writeSafetensors, type Entry } from './models-fixtures';
import { uniform } from './signature-test-graphs';

/** Seeded uniform numbers in [0, 1): the same weights and inputs on every run. */
function random(seed: number): () => number {
  const next = uniform(seed);
  return () => (next() + 1) / 2;
}

const bytes = (a: Float32Array | BigInt64Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** One tensor's values: Linear/Conv weights U(±1/√fan_in), norms' scales near 1, variances in [0.5, 1.5]. */
function values(name: string, shape: readonly number[], next: () => number): Float32Array {
  const n = shape.reduce((a, d) => a * d, 1);
  const u = (lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
  if (name.endsWith('running_var')) return u(0.5, 1.5);
  if (name.endsWith('running_mean')) return u(-0.1, 0.1);
  if (shape.length === 1) return name.endsWith('.weight') ? u(0.8, 1.2) : u(-0.1, 0.1);
  const fanIn = shape.slice(1).reduce((a, d) => a * d, 1);
  const bound = name.endsWith('receiver_embeddings.weight') ? 1 : 1 / Math.sqrt(fanIn);
  return u(-bound, bound);
}

/** Every tensor of `layout` with seeded values, and each BatchNorm's num_batches_tracked (I64, shape []). */
export function heimdallNetEntries(layout: HeimdallNetLayout, seed = 1): Map<string, Entry> {
  const next = random(seed);
  const entries = new Map<string, Entry>();
  for (const [name, shape] of expectedShapes(layout)) {
    entries.set(name, { dtype: 'F32', shape, data: bytes(values(name, shape, next)) });
    if (name.endsWith('.running_var')) {
      const counter = `${name.slice(0, -'running_var'.length)}num_batches_tracked`;
      entries.set(counter, { dtype: 'I64', shape: [], data: bytes(BigInt64Array.of(100n)) });
    }
  }
  return entries;
}

/** A bundle dir: config.json (`architecture` heimdall_net plus `config`) and model.safetensors from `entries`. */
export function heimdallNetBundle(entries: ReadonlyMap<string, Entry>, config: Record<string, unknown> = {}): string {
  const dir = tempDir();
  writeSafetensors(join(dir, 'model.safetensors'), entries);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ architecture: 'heimdall_net', ...config }));
  return dir;
}

/** One batch of inputs, as onnxruntime takes them. */
export interface HeimdallInputs {
  iq_data: ort.Tensor;
  features: ort.Tensor;
  positions: ort.Tensor;
  receiver_ids: ort.Tensor;
  mask: ort.Tensor;
}

export interface InputSpec {
  readonly batch: number;
  readonly receivers: number;
  readonly length: number;
  /** Per row; default 0..N−1 modulo R. */
  readonly ids?: readonly (readonly number[])[];
  /** Per row, true = active; default all active. */
  readonly mask?: readonly (readonly boolean[])[];
  readonly maxReceivers?: number;
  readonly seed?: number;
}

/** Inputs of `spec`'s shapes with seeded values (normal-ish: the sum of uniforms). */
export function heimdallInputs(spec: InputSpec): HeimdallInputs {
  const next = random(spec.seed ?? 7);
  const { batch: b, receivers: n, length: l } = spec;
  const normal = (count: number) =>
    Float32Array.from({ length: count }, () => (next() + next() + next() + next() - 2) * 1.7);
  const ids = BigInt64Array.from({ length: b * n }, (_, k) =>
    BigInt(spec.ids?.[Math.floor(k / n)]?.[k % n] ?? (k % n) % (spec.maxReceivers ?? 10)),
  );
  const mask = Uint8Array.from({ length: b * n }, (_, k) =>
    (spec.mask?.[Math.floor(k / n)]?.[k % n] ?? true) ? 1 : 0,
  );
  return {
    iq_data: new ort.Tensor('float32', normal(b * n * 2 * l), [b, n, 2, l]),
    features: new ort.Tensor('float32', normal(b * n * 6), [b, n, 6]),
    positions: new ort.Tensor('float32', normal(b * n * 3), [b, n, 3]),
    receiver_ids: new ort.Tensor('int64', ids, [b, n]),
    mask: new ort.Tensor('bool', mask, [b, n]),
  };
}

/** Rows `from`…`to − 1` of every input (the batch axis). */
export function sliceBatch(inputs: HeimdallInputs, from: number, to: number): HeimdallInputs {
  const cut = (t: ort.Tensor): ort.Tensor => {
    const per = t.dims.slice(1).reduce((a, d) => a * d, 1);
    const data = (t.data as Float32Array | BigInt64Array | Uint8Array).slice(from * per, to * per);
    return new ort.Tensor(t.type as 'float32', data as Float32Array, [to - from, ...t.dims.slice(1)]);
  };
  return {
    iq_data: cut(inputs.iq_data),
    features: cut(inputs.features),
    positions: cut(inputs.positions),
    receiver_ids: cut(inputs.receiver_ids),
    mask: cut(inputs.mask),
  };
}

/** Runs the graph at `path`: position and uncertainty as flat arrays. */
export async function runHeimdall(
  session: ort.InferenceSession,
  inputs: HeimdallInputs,
): Promise<{ position: Float32Array; uncertainty: Float32Array }> {
  const out = await session.run({ ...inputs });
  return { position: out.position?.data as Float32Array, uncertainty: out.uncertainty?.data as Float32Array };
}

/** Largest absolute difference between two arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

/**
 * A complete heimdall_net bundle (R = 4, calibration on): TS-made weights, and a reference of two
 * cases (N = 3, L = 32 and N = 5, L = 16) whose outputs are this emitter's own, from onnxruntime. It
 * proves names, shapes and the plug-in's promises, never parity.
 */
export async function heimdallNetFixtureBundle(): Promise<string> {
  const dir = heimdallNetBundle(heimdallNetEntries({ maxReceivers: 4, useCalibration: true }, 11));
  const graph = join(tempDir(), 'model.onnx');
  await emitBundle(dir, graph);
  const session = await ort.InferenceSession.create(graph);
  const reference = new Map<string, Entry>();
  try {
    for (const [name, spec] of [
      ['n3', { batch: 2, receivers: 3, length: 32, maxReceivers: 4 }],
      ['n5', { batch: 1, receivers: 5, length: 16, maxReceivers: 4 }],
    ] as const) {
      const inputs = heimdallInputs(spec);
      const outputs = await runHeimdall(session, inputs);
      for (const [key, t] of Object.entries(inputs) as [string, ort.Tensor][]) {
        const dtype = t.type === 'float32' ? 'F32' : t.type === 'int64' ? 'I64' : 'BOOL';
        const data = t.data as Float32Array | BigInt64Array | Uint8Array;
        reference.set(`${name}/${key}`, { dtype, shape: t.dims, data: bytes(data) });
      }
      for (const [key, data] of Object.entries(outputs)) {
        reference.set(`${name}/${key}`, { dtype: 'F32', shape: [spec.batch, 2], data: bytes(data) });
      }
    }
  } finally {
    await session.release();
  }
  writeSafetensors(join(dir, 'reference.safetensors'), reference);
  return dir;
}
