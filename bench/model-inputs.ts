/**
 * Fresh random inputs for a session at one batch size: standard-normal float32 values (never zeros,
 * which some kernels shortcut), several distinct sets used in rotation so no run reuses the previous
 * run's cache-hot input. Shapes come from onnxruntime's own input metadata, so only float32 inputs
 * with fixed non-batch dimensions; the benchmark itself builds its feeds from the graph's signature
 * (signature-feeds.ts), with the same values for such inputs.
 *
 * It must not run the model or time anything.
 */
import { Tensor } from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';
import { BenchmarkError } from './bench-error';

/** Deterministic standard-normal numbers: mulberry32 uniforms through Box-Muller. */
export function normalSource(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = Math.max(uniform(), Number.MIN_VALUE);
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** The concrete shape of `input` at `batchSize`: the first dimension is the batch, every other must be fixed. */
export function concreteShape(input: InferenceSession.ValueMetadata, batchSize: number, model: string): number[] {
  if (!input.isTensor) {
    throw new BenchmarkError(`${model}: input '${input.name}' is not a tensor`, { kind: 'input-unsupported', model });
  }
  if (input.type !== 'float32') {
    throw new BenchmarkError(
      `${model}: input '${input.name}' is ${input.type}; the benchmark fills float32 inputs only`,
      { kind: 'input-unsupported', model },
    );
  }
  if (input.shape.length === 0) {
    throw new BenchmarkError(`${model}: input '${input.name}' has no shape in the model`, {
      kind: 'input-unsupported',
      model,
    });
  }
  return input.shape.map((d, i) => {
    if (i === 0) {
      if (typeof d === 'number' && d > 0 && d !== batchSize) {
        throw new BenchmarkError(
          `${model}: input '${input.name}' has a fixed batch dimension ${d}; batch size ${batchSize} needs a symbolic first dimension`,
          { kind: 'input-unsupported', model, batchSize },
        );
      }
      return batchSize;
    }
    if (typeof d !== 'number' || d <= 0) {
      throw new BenchmarkError(
        `${model}: input '${input.name}' dimension ${i} is '${String(d)}'; only the batch dimension may be symbolic`,
        {
          kind: 'input-unsupported',
          model,
          batchSize,
        },
      );
    }
    return d;
  });
}

/**
 * The seed of one float input's values: per benchmark seed, batch size, input set and input index, so
 * every set differs and the same model gets the same values in any run (signature-feeds.ts too).
 */
export function feedSeed(seed: number, batchSize: number, set: number, input: number): number {
  return seed * 1_000_003 + batchSize * 7919 + set * 131 + input;
}

/** `length` standard-normal float32 values from `seed`. */
export function normalValues(length: number, seed: number): Float32Array {
  const next = normalSource(seed);
  const data = new Float32Array(length);
  for (let k = 0; k < length; k++) data[k] = next();
  return data;
}

/** `sets` distinct feeds for `session` at `batchSize`, the same for any session with the same inputs and seed. */
export function randomFeeds(
  session: InferenceSession,
  batchSize: number,
  sets: number,
  seed: number,
  model: string,
): InferenceSession.FeedsType[] {
  const feeds: InferenceSession.FeedsType[] = [];
  for (let s = 0; s < sets; s++) {
    const feed: Record<string, Tensor> = {};
    session.inputMetadata.forEach((input, i) => {
      const shape = concreteShape(input, batchSize, model);
      const data = normalValues(
        shape.reduce((p, d) => p * d, 1),
        feedSeed(seed, batchSize, s, i),
      );
      feed[input.name] = new Tensor('float32', data, shape);
    });
    feeds.push(feed);
  }
  return feeds;
}
