/**
 * Test helper: small graphs with named, typed, multi-input signatures, built with onnx/builder, each
 * with a plain-JS forward pass, and reference-case files for them. The receiver graph has the shape of
 * the training service's multi-receiver models: float features over a symbolic `receivers` axis,
 * int64 receiver ids looked up in an embedding table (Gather), a bool mask, a MatMul on the 3-D
 * activation and a Gemm on the pooled 2-D one. Tests only.
 */
import { join } from 'node:path';
import { GraphBuilder } from '../../onnx/builder';
import { attr, float32Tensor, int64Tensor } from '../../onnx/ir';
import { writeModel } from '../../onnx/write-model';
import { encode, layout, tempDir, writeTemp, type RawTensor } from './checkpoint-safetensors-writer';

export const FEATURES = 6;
export const HIDDEN = 8;
export const RECEIVER_IDS = 16;

/** Deterministic uniform numbers in [-1, 1) (mulberry32). */
export function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

const WEIGHTS = (() => {
  const next = uniform(7);
  const fill = (n: number, scale: number) => Float32Array.from({ length: n }, () => next() * scale);
  return {
    table: fill(RECEIVER_IDS * HIDDEN, 0.5),
    w1: fill(FEATURES * HIDDEN, 0.4),
    b1: fill(HIDDEN, 0.1),
    w2: fill(3 * HIDDEN, 0.3),
    b2: fill(3, 0.1),
  };
})();

/**
 * position[b] = Gemm(mean over receivers of relu(features·W1 + b1 + table[ids]) · mask, W2ᵀ, b2);
 * valid = mask. Inputs features float32 [batch, receivers, 6], ids int64 [batch, receivers], mask bool
 * [batch, receivers]; outputs position float32 [batch, 3], valid bool [batch, receivers].
 */
export async function receiverGraph(opset = 17): Promise<string> {
  const b = new GraphBuilder({ opset });
  const features = b.input('features', 'float32', ['batch', 'receivers', FEATURES]);
  const ids = b.input('ids', 'int64', ['batch', 'receivers']);
  const mask = b.input('mask', 'bool', ['batch', 'receivers']);
  const table = b.initializer(float32Tensor('receiver_embedding.weight', [RECEIVER_IDS, HIDDEN], WEIGHTS.table));
  const [embedded] = b.node('Gather', [table, ids], { axis: attr.int(0) }, { name: 'receiver_embedding/Gather' });
  const w1 = b.initializer(float32Tensor('encoder.weight', [FEATURES, HIDDEN], WEIGHTS.w1));
  const b1 = b.initializer(float32Tensor('encoder.bias', [HIDDEN], WEIGHTS.b1));
  const h = b.add('encoder', b.matMul('encoder', features, w1), b1);
  const hidden = b.relu('encoder', b.add('combine', h, embedded as string));
  const weight = b.cast('mask', mask, 'float32');
  const axes = b.initializer(int64Tensor('mask/axes', [1], [2]));
  const [weight3] = b.node('Unsqueeze', [weight, axes], {}, { name: 'mask/Unsqueeze' });
  const pooled = b.reduceMean('pool', b.mul('pool', hidden, weight3 as string), [1], { keepdims: 0 });
  const w2 = b.initializer(float32Tensor('head.weight', [3, HIDDEN], WEIGHTS.w2));
  const b2 = b.initializer(float32Tensor('head.bias', [3], WEIGHTS.b2));
  b.gemm('head', pooled, w2, b2, { transB: 1, output: 'position' });
  b.identity('valid', mask, { output: 'valid' });
  b.output('position', 'float32', ['batch', 3]);
  b.output('valid', 'bool', ['batch', 'receivers']);
  const path = join(tempDir(), 'receivers.onnx');
  await writeModel(b.build(), path);
  return path;
}

/** One receiver graph case: inputs drawn from `seed`, outputs from receiverForward. */
export interface ReceiverCase {
  features: Float32Array;
  ids: BigInt64Array;
  mask: Uint8Array;
  position: Float32Array;
  batch: number;
  receivers: number;
}

export function receiverCase(batch: number, receivers: number, seed: number): ReceiverCase {
  const next = uniform(seed);
  const features = Float32Array.from({ length: batch * receivers * FEATURES }, () => next());
  const ids = BigInt64Array.from({ length: batch * receivers }, () => BigInt(Math.floor((next() + 1) * 8)));
  // Every sample keeps its first receiver; the rest are masked at random.
  const mask = Uint8Array.from({ length: batch * receivers }, (_, i) => (i % receivers === 0 || next() > 0 ? 1 : 0));
  return { features, ids, mask, position: receiverForward(features, ids, mask, batch, receivers), batch, receivers };
}

/** The receiver graph's position output, in float64. */
export function receiverForward(
  features: Float32Array,
  ids: BigInt64Array,
  mask: Uint8Array,
  batch: number,
  receivers: number,
): Float32Array {
  const out = new Float32Array(batch * 3);
  for (let s = 0; s < batch; s++) {
    const pooled = new Float64Array(HIDDEN);
    for (let r = 0; r < receivers; r++) {
      const at = s * receivers + r;
      const id = Number(ids[at]);
      for (let k = 0; k < HIDDEN; k++) {
        let v = (WEIGHTS.b1[k] as number) + (WEIGHTS.table[id * HIDDEN + k] as number);
        for (let f = 0; f < FEATURES; f++)
          v += (features[at * FEATURES + f] as number) * (WEIGHTS.w1[f * HIDDEN + k] as number);
        pooled[k] = (pooled[k] as number) + Math.max(0, v) * (mask[at] as number);
      }
    }
    for (let o = 0; o < 3; o++) {
      let v = WEIGHTS.b2[o] as number;
      for (let k = 0; k < HIDDEN; k++)
        v += ((pooled[k] as number) / receivers) * (WEIGHTS.w2[o * HIDDEN + k] as number);
      out[s * 3 + o] = v;
    }
  }
  return out;
}

const bytes = (a: Float32Array | BigInt64Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A case's tensors as safetensors entries, keys prefixed (`r7/`), with or without the outputs. */
export function receiverTensors(c: ReceiverCase, prefix = '', outputs = true): Record<string, RawTensor> {
  const { batch: b, receivers: n } = c;
  return {
    [`${prefix}features`]: { dtype: 'F32', shape: [b, n, FEATURES], data: bytes(c.features) },
    [`${prefix}ids`]: { dtype: 'I64', shape: [b, n], data: bytes(c.ids) },
    [`${prefix}mask`]: { dtype: 'BOOL', shape: [b, n], data: bytes(c.mask) },
    ...(outputs
      ? {
          [`${prefix}position`]: { dtype: 'F32', shape: [b, 3], data: bytes(c.position) },
          [`${prefix}valid`]: { dtype: 'BOOL', shape: [b, n], data: bytes(c.mask) },
        }
      : {}),
  };
}

/** Writes `tensors` as a safetensors file named `name` in a fresh temp folder. */
export function writeTensors(tensors: Record<string, RawTensor>, name = 'reference.safetensors'): string {
  const { header, data } = layout(tensors);
  return writeTemp(encode(header, data), name);
}

export const f32Tensor = (shape: number[], values: ArrayLike<number>): RawTensor => ({
  dtype: 'F32',
  shape,
  data: bytes(Float32Array.from(values)),
});

/**
 * y = x + c with c a [2, 4] constant: what an exporter leaves when it traced a batch of 2 into a
 * broadcast. Declared [batch, 4] → [batch, 4], right at batch 2 only: at 1 it returns two rows, at 3
 * onnxruntime refuses to broadcast.
 */
export async function bakedBatchGraph(): Promise<{ path: string; forward: (x: Float32Array) => Float32Array }> {
  const c = Float32Array.from({ length: 8 }, (_, i) => i / 8);
  const b = new GraphBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['batch', 4]);
  const k = b.initializer(float32Tensor('traced_batch', [2, 4], c));
  b.add('add', x, k, { output: 'y' });
  b.output('y', 'float32', ['batch', 4]);
  const path = join(tempDir(), 'baked.onnx');
  await writeModel(b.build(), path);
  return { path, forward: (v) => v.map((value, i) => value + (c[i % 8] as number)) };
}

/** y = sqrt(x), [batch, 2]: NaN wherever x < 0. */
export async function sqrtGraph(): Promise<string> {
  const b = new GraphBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['batch', 2]);
  b.sqrt('sqrt', x, { output: 'y' });
  b.output('y', 'float32', ['batch', 2]);
  const path = join(tempDir(), 'sqrt.onnx');
  await writeModel(b.build(), path);
  return path;
}
