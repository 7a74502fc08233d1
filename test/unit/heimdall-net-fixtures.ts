/**
 * Test helper: HeimdallNet weights made in TypeScript (no PyTorch) for the unit tests: every tensor of
 * the spec's table for a layout, seeded uniform values at a Linear's usual scale, BatchNorm statistics
 * that are not the identity; bundles from them; and inputs for the graph. Values are arbitrary, so
 * what they prove is structure and PyTorch-independent properties of the network, never parity
 * (test/integration/heimdall-net-parity.test.ts does that). Tests only.
 */
import * as ort from 'onnxruntime-node';
import { expectedShapes, type HeimdallNetLayout } from '../../models/heimdall_net';
import type { Entry } from './models-fixtures';
import { bytesOf, seededRandom, seededValues, tableBundle, withOwnReference } from './table-weights';

/** Every tensor of `layout` with seeded values, and each BatchNorm's num_batches_tracked (I64, shape []). */
export function heimdallNetEntries(layout: HeimdallNetLayout, seed = 1): Map<string, Entry> {
  const next = seededRandom(seed);
  const entries = new Map<string, Entry>();
  for (const [name, shape] of expectedShapes(layout)) {
    // Receiver embeddings are nn.Embedding's N(0, 1) at PyTorch's default: U(±1) here.
    const bound = name.endsWith('receiver_embeddings.weight') ? 1 : undefined;
    entries.set(name, { dtype: 'F32', shape, data: bytesOf(seededValues(name, shape, next, bound)) });
    if (name.endsWith('.running_var')) {
      const counter = `${name.slice(0, -'running_var'.length)}num_batches_tracked`;
      entries.set(counter, { dtype: 'I64', shape: [], data: bytesOf(BigInt64Array.of(100n)) });
    }
  }
  return entries;
}

/** A bundle dir: config.json (`architecture` heimdall_net plus `config`) and model.safetensors from `entries`. */
export function heimdallNetBundle(entries: ReadonlyMap<string, Entry>, config: Record<string, unknown> = {}): string {
  return tableBundle({ architecture: 'heimdall_net', ...config }, entries);
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
  const next = seededRandom(spec.seed ?? 7);
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

export { maxAbsDiff } from './table-weights';

/**
 * A complete heimdall_net bundle (R = 4, calibration on): TS-made weights, and a reference of two
 * cases (N = 3, L = 32 and N = 5, L = 16) whose outputs are this emitter's own, from onnxruntime. It
 * proves names, shapes and the plug-in's promises, never parity.
 */
export async function heimdallNetFixtureBundle(): Promise<string> {
  const dir = heimdallNetBundle(heimdallNetEntries({ maxReceivers: 4, useCalibration: true }, 11));
  return withOwnReference(dir, {
    n3: { ...heimdallInputs({ batch: 2, receivers: 3, length: 32, maxReceivers: 4 }) },
    n5: { ...heimdallInputs({ batch: 1, receivers: 5, length: 16, maxReceivers: 4 }) },
  });
}
