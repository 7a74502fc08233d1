/**
 * The benchmark's feeds, built from the graph's signature (read from the ONNX file):
 * - the batch axis takes each batch size;
 * - a symbolic dimension other than the batch takes its size from the caller's `dims`
 *   (`benchmark.dims` in a request, `--dims` on the CLI), else from the reference's first case;
 * - float32 inputs are standard normals, as they always were (model-inputs.ts: the same seeds, so a
 *   graph of float inputs with fixed sizes gets the same values as before);
 * - int64 and bool inputs cycle through the reference's own values of that input (its first case):
 *   valid receiver ids, masks that keep what the model expects.
 * The reference is read only when a dimension or an input needs it. Every refusal is a BenchmarkError
 * naming the input or dimension and the option that would give it. It must not time anything.
 */
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { openReferenceCases, type ReferenceCases } from '../checkpoint';
import { tensorDims, type ModelSignature, type SignatureDim } from '../common/model-signature';
import { graphSignature } from '../onnx/graph-signature';
import { readModel } from '../onnx/serialize-read';
import { BenchmarkError } from './bench-error';
import { feedSeed, normalValues } from './model-inputs';
import type { BenchmarkFeeds } from './report-types';

export interface FeedOptions {
  /** Sizes of symbolic dimensions other than the batch (`{receivers: 7, seq_len: 10000}`); they win over the reference's. */
  readonly dims?: Readonly<Record<string, number>>;
  /**
   * The reference cases file, or how to fetch it (called once, and only when a dimension or an int64
   * or bool input needs it).
   */
  readonly reference?: string | (() => Promise<string>);
}

/** What the feeds of every batch size are built from. */
export interface FeedPlan {
  readonly signature: ModelSignature;
  /** Each input's non-batch sizes. */
  readonly sampleShapes: ReadonlyMap<string, readonly number[]>;
  /** The reference's values of each int64 and bool input. */
  readonly values: ReadonlyMap<string, BigInt64Array | Uint8Array>;
  readonly description: BenchmarkFeeds;
}

const FED_DTYPES = new Set(['float32', 'int64', 'bool']);

export async function planFeeds(modelPath: string, label: string, options: FeedOptions = {}): Promise<FeedPlan> {
  const signature = await readSignature(modelPath, label);
  const batchNames = new Set(signature.inputs.map((t) => tensorDims(signature, t)[0]));
  const symbolic = new Set(
    signature.inputs.flatMap((t) => tensorDims(signature, t).slice(1)).filter((d) => typeof d === 'string'),
  );
  for (const [name, size] of Object.entries(options.dims ?? {})) {
    const known = [...symbolic].filter((d) => d !== '' && !batchNames.has(d));
    if (batchNames.has(name) || !symbolic.has(name)) {
      throw new BenchmarkError(
        `${label}: dims names '${name}', which is not a symbolic dimension of the graph's inputs other than the batch (${known.length > 0 ? `those are ${known.join(', ')}` : 'it has none'}; batch sizes are set by --batch / benchmark.batchSizes)`,
        { kind: 'bad-options', model: label },
      );
    }
    if (!Number.isInteger(size) || size < 1) {
      throw new BenchmarkError(`${label}: dims ${name}=${size}: expected a positive integer`, {
        kind: 'bad-options',
        model: label,
      });
    }
  }

  const needsReference = signature.inputs.some(
    (t) =>
      t.dtype !== 'float32' ||
      tensorDims(signature, t)
        .slice(1)
        .some((d) => typeof d === 'string' && (d === '' || options.dims?.[d] === undefined)),
  );
  const reference = needsReference ? await openReference(signature, label, options.reference) : undefined;
  const first = reference?.cases[0];

  const dims: Record<string, number> = {};
  const dimsFrom: Record<string, 'request' | 'reference'> = {};
  const sampleShapes = new Map<string, number[]>();
  for (const t of signature.inputs) {
    const shape = tensorDims(signature, t)
      .slice(1)
      .map((d, i) => {
        if (typeof d === 'number') return d;
        const given = d === '' ? undefined : options.dims?.[d];
        const fromReference = first?.tensors.get(t.name)?.shape[i + 1];
        const size = given ?? fromReference;
        if (size === undefined) throw unresolved(label, t.name, i + 1, d);
        if (d !== '') {
          dims[d] = size;
          dimsFrom[d] = given !== undefined ? 'request' : 'reference';
        }
        return size;
      });
    sampleShapes.set(t.name, shape);
  }

  const values = new Map<string, BigInt64Array | Uint8Array>();
  for (const t of signature.inputs) {
    if (t.dtype === 'float32') continue;
    if (reference === undefined || first === undefined) {
      throw new BenchmarkError(
        `${label}: input '${t.name}' is ${t.dtype}: the benchmark feeds it the reference's own values; pass a reference (--reference <reference.safetensors>; an export passes its bundle's)`,
        { kind: 'input-unsupported', model: label },
      );
    }
    values.set(t.name, (await reference.rows(first, t.name, 0, first.batch)) as BigInt64Array | Uint8Array);
  }

  const inputs = signature.inputs.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: ['batch' as const, ...(sampleShapes.get(t.name) ?? [])],
    values: t.dtype === 'float32' ? ('random normal' as const) : ('reference' as const),
  }));
  return {
    signature,
    sampleShapes,
    values,
    description: {
      dims,
      dimsFrom,
      inputs,
      ...(first !== undefined ? { referenceCase: first.name === '' ? '(the only case)' : first.name } : {}),
    },
  };
}

/** `sets` distinct feeds at `batchSize`: the same for any run of the same plan and seed. */
export function signatureFeeds(
  plan: FeedPlan,
  batchSize: number,
  sets: number,
  seed: number,
  label: string,
): InferenceSession.FeedsType[] {
  const feeds: InferenceSession.FeedsType[] = [];
  for (let s = 0; s < sets; s++) {
    const feed: Record<string, Tensor> = {};
    plan.signature.inputs.forEach((t, i) => {
      const batchDim = tensorDims(plan.signature, t)[0];
      if (typeof batchDim === 'number' && batchDim > 0 && batchDim !== batchSize) {
        throw new BenchmarkError(
          `${label}: input '${t.name}' has a fixed batch dimension ${batchDim}; batch size ${batchSize} needs a symbolic first dimension`,
          { kind: 'input-unsupported', model: label, batchSize },
        );
      }
      const shape = [batchSize, ...(plan.sampleShapes.get(t.name) ?? [])];
      const length = shape.reduce((p, d) => p * d, 1);
      if (t.dtype === 'float32') {
        feed[t.name] = new Tensor('float32', normalValues(length, feedSeed(seed, batchSize, s, i)), shape);
        return;
      }
      const source = plan.values.get(t.name);
      if (source === undefined || source.length === 0) {
        throw new BenchmarkError(`${label}: input '${t.name}': the reference has no values for it`, {
          kind: 'input-unsupported',
          model: label,
        });
      }
      // Each set starts where the previous one ended, so sets differ while every value is one the reference holds.
      if (source instanceof BigInt64Array) {
        const data = BigInt64Array.from({ length }, (_, k) => source[(s * length + k) % source.length] as bigint);
        feed[t.name] = new Tensor('int64', data, shape);
      } else {
        const data = Uint8Array.from({ length }, (_, k) => source[(s * length + k) % source.length] as number);
        feed[t.name] = new Tensor('bool', data, shape);
      }
    });
    feeds.push(feed);
  }
  return feeds;
}

async function readSignature(modelPath: string, label: string): Promise<ModelSignature> {
  let signature: ModelSignature;
  try {
    signature = graphSignature(await readModel(modelPath));
  } catch (cause) {
    throw new BenchmarkError(
      `${label}: the graph's inputs cannot be read: ${(cause as Error).message}`,
      { kind: 'model-invalid', model: label },
      { cause },
    );
  }
  for (const t of signature.inputs) {
    if (!FED_DTYPES.has(t.dtype)) {
      throw new BenchmarkError(
        `${label}: input '${t.name}' is ${t.dtype}; the benchmark feeds float32, int64 and bool inputs`,
        { kind: 'input-unsupported', model: label },
      );
    }
  }
  return signature;
}

async function openReference(
  signature: ModelSignature,
  label: string,
  reference: FeedOptions['reference'],
): Promise<ReferenceCases | undefined> {
  if (reference === undefined) return undefined;
  const path = typeof reference === 'string' ? reference : await reference();
  try {
    return await openReferenceCases(path, signature, { tensors: 'inputs' });
  } catch (cause) {
    throw new BenchmarkError(
      `${label}: the reference does not fit the graph: ${(cause as Error).message}`,
      { kind: 'input-unsupported', model: label },
      { cause },
    );
  }
}

function unresolved(label: string, input: string, axis: number, dim: SignatureDim): BenchmarkError {
  const how =
    dim === ''
      ? 'it has no name, so only a reference can give its size (--reference <reference.safetensors>)'
      : `give its size with --dims ${String(dim)}=N (benchmark.dims in an export request) or a reference (--reference <reference.safetensors>)`;
  return new BenchmarkError(
    `${label}: input '${input}' dimension ${axis} is ${dim === '' ? 'symbolic' : `'${String(dim)}'`}: ${how}`,
    { kind: 'input-unsupported', model: label },
  );
}
