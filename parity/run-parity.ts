/**
 * Parity: runs an ONNX model with onnxruntime-node on every reference case, fed by the graph's own
 * signature, and compares each output with PyTorch's (MAE, max absolute and relative error, NaN/Inf).
 * Each case runs whole, at batch 1 and split unevenly (batch-splits.ts), so a graph that bakes a batch
 * size in fails. A run onnxruntime refuses, an output of the wrong type or shape, a NaN where the
 * reference is finite: each is a failure of that case and split, in the report. Returns a plain JSON
 * ParityReport with `passed: false` on any failure; it throws only when the comparison cannot start
 * (ParityError: a reference that does not fit the graph). It must not emit or edit models.
 */
import * as ort from 'onnxruntime-node';
import { casePrefix, type CaseValues, type ReferenceCase, type ReferenceCases } from '../checkpoint';
import { tensorDims, type ModelSignature, type TensorSpec } from '../common/model-signature';
import { batchSplits, describeSizes, SPLIT_NAMES, type Partition, type SplitName } from './batch-splits';
import { concatErrors, ErrorAccumulator, worstErrors, type OutputErrors } from './error-stats';
import type { CaseParity, ParityReport, SplitParity } from './parity-report';
import { openParityReference, readGraphSignature } from './reference';
import { DEFAULT_PARITY_BATCH, DEFAULT_TOLERANCES } from './tolerances';

export type { CaseParity, ParityReport, SplitParity } from './parity-report';

export interface ParityOptions {
  readonly mae?: number;
  readonly maxAbs?: number;
  /** The most samples per onnxruntime run (the whole split's batches). */
  readonly batchSize?: number;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  readonly threads?: number;
}

type Tolerances = ParityReport['tolerances'];

/** Outputs compared exactly: any difference is a failure, whatever the tolerances. */
const EXACT_DTYPES: ReadonlySet<string> = new Set(['int64', 'bool']);

export async function runParity(
  modelPath: string,
  referencePath: string,
  options: ParityOptions = {},
): Promise<ParityReport> {
  const start = process.hrtime.bigint();
  const tolerances = {
    mae: options.mae ?? DEFAULT_TOLERANCES.mae,
    maxAbs: options.maxAbs ?? DEFAULT_TOLERANCES.maxAbs,
  };
  const batchSize = options.batchSize ?? DEFAULT_PARITY_BATCH;
  const signature = await readGraphSignature(modelPath);
  const reference = await openParityReference(referencePath, signature, modelPath);
  const session = await ort.InferenceSession.create(modelPath, {
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
  });
  try {
    const failures: string[] = [];
    const cases: CaseParity[] = [];
    for (const c of reference.cases) {
      const splits: SplitParity[] = [];
      for (const partition of batchSplits(c.batch, batchSize)) {
        const ran = await runPartition(session, signature, reference, c, partition);
        const found = judgeSplit(signature, c, partition, ran, tolerances);
        failures.push(...found);
        splits.push({
          splits: partition.splits,
          batches: describeSizes(partition.sizes),
          passed: found.length === 0,
          ...(ran.error !== undefined ? { error: ran.error } : {}),
          outputs: ran.outputs,
        });
      }
      cases.push({
        name: c.name,
        samples: c.batch,
        dims: withoutBatch(signature, c.dims),
        passed: splits.every((s) => s.passed),
        splits,
      });
    }
    return {
      model: modelPath,
      reference: referencePath,
      samples: reference.samples,
      batchSize,
      tolerances,
      outputs: summarise(signature, cases),
      cases,
      unusedTensors: reference.unused,
      passed: failures.length === 0,
      failures,
      seconds: Number(process.hrtime.bigint() - start) / 1e9,
    };
  } finally {
    await session.release();
  }
}

interface PartitionRun {
  readonly outputs: Record<string, OutputErrors>;
  readonly error?: string;
}

/** Runs one case split one way, run by run; stops at the first run that fails and says why. */
async function runPartition(
  session: ort.InferenceSession,
  signature: ModelSignature,
  reference: ReferenceCases,
  c: ReferenceCase,
  partition: Partition,
): Promise<PartitionRun> {
  const acc = new Map(signature.outputs.map((o) => [o.name, new ErrorAccumulator()]));
  const result = (error?: string): PartitionRun => ({
    outputs: Object.fromEntries([...acc].map(([name, a]) => [name, a.result()])),
    ...(error !== undefined ? { error } : {}),
  });
  let first = 0;
  for (const n of partition.sizes) {
    const samples = `samples [${first}, ${first + n})`;
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of signature.inputs) {
      const data = await reference.rows(c, input.name, first, n);
      feeds[input.name] = feedTensor(data, [n, ...sampleShape(c, input)]);
    }
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await session.run(feeds);
    } catch (err) {
      return result(`onnxruntime failed on ${samples}: ${err instanceof Error ? err.message : String(err)}`);
    }
    for (const output of signature.outputs) {
      const got = out[output.name];
      const want = [n, ...sampleShape(c, output)];
      if (!got || got.type !== output.dtype || !sameDims(got.dims, want)) {
        const actual = got ? `${got.type} [${got.dims.join(', ')}]` : 'nothing';
        return result(
          `output '${output.name}': onnxruntime returned ${actual} for ${samples}, expected ${output.dtype} [${want.join(', ')}]`,
        );
      }
      const expected = await reference.rows(c, output.name, first, n);
      acc.get(output.name)?.add(numbers(got.data as CaseValues), numbers(expected));
    }
    first += n;
  }
  return result();
}

/** A case's symbolic dimension sizes without the batch's name(s): the first axis of every tensor is the batch. */
function withoutBatch(signature: ModelSignature, dims: Readonly<Record<string, number>>): Record<string, number> {
  const batchNames = new Set([...signature.inputs, ...signature.outputs].map((t) => tensorDims(signature, t)[0]));
  return Object.fromEntries(Object.entries(dims).filter(([d]) => !batchNames.has(d)));
}

function sampleShape(c: ReferenceCase, t: TensorSpec): readonly number[] {
  return c.tensors.get(t.name)?.shape.slice(1) ?? [];
}

/** A feed from reference rows: the typed array says the dtype (bool rows are bytes). */
function feedTensor(data: CaseValues, dims: readonly number[]): ort.Tensor {
  if (data instanceof Float32Array) return new ort.Tensor('float32', data, dims);
  if (data instanceof BigInt64Array) return new ort.Tensor('int64', data, dims);
  return new ort.Tensor('bool', data, dims);
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Values as numbers for the error statistics (int64 ids and bool masks are compared exactly). */
function numbers(values: CaseValues): ArrayLike<number> {
  return values instanceof BigInt64Array ? Float64Array.from(values, Number) : values;
}

/** `case 'r7', split 3+4: ` before a failure; nothing for the one case's whole batch, as parity always said it. */
function failurePrefix(c: ReferenceCase, partition: Partition): string {
  if (partition.splits.includes('whole')) return casePrefix(c);
  const split = `split ${describeSizes(partition.sizes)}`;
  return c.name === '' ? `${split}: ` : `case '${c.name}', ${split}: `;
}

function judgeSplit(
  signature: ModelSignature,
  c: ReferenceCase,
  partition: Partition,
  ran: PartitionRun,
  t: Tolerances,
): string[] {
  const prefix = failurePrefix(c, partition);
  const whole = partition.splits.includes('whole');
  const f: string[] = [];
  if (ran.error !== undefined) f.push(`${prefix}${ran.error}`);
  for (const output of signature.outputs) {
    const e = ran.outputs[output.name];
    if (e === undefined || e.count === 0) continue;
    const name = `${prefix}${output.name}`;
    if (e.nonFiniteOutputs > 0) f.push(`${name}: ${e.nonFiniteOutputs} NaN/Inf values in the model's output`);
    // The reference is the same for every split: its own NaN/Inf is said once, with the whole batch.
    if (whole && e.nonFiniteReference > 0) f.push(`${name}: ${e.nonFiniteReference} NaN/Inf values in the reference`);
    if (EXACT_DTYPES.has(output.dtype)) {
      if (e.maxAbs > 0)
        f.push(
          `${name}: max abs error ${e.maxAbs} > 0 (at element ${e.maxAbsIndex}; ${output.dtype} is compared exactly)`,
        );
      continue;
    }
    if (!(e.mae <= t.mae)) f.push(`${name}: MAE ${e.mae.toExponential(3)} > ${t.mae}`);
    if (!(e.maxAbs <= t.maxAbs))
      f.push(`${name}: max abs error ${e.maxAbs.toExponential(3)} > ${t.maxAbs} (at element ${e.maxAbsIndex})`);
  }
  return f;
}

/**
 * Per output: for each split, the cases read as one pass (in case order); then the worst of those
 * passes. A case whose splits came out the same counts that partition for each of them.
 */
function summarise(signature: ModelSignature, cases: readonly CaseParity[]): Record<string, OutputErrors> {
  const passOf = (split: SplitName, output: string): OutputErrors | undefined =>
    cases
      .map((c) => c.splits.find((s) => s.splits.includes(split))?.outputs[output])
      .filter((e): e is OutputErrors => e !== undefined)
      .reduce<OutputErrors | undefined>((all, e) => (all === undefined ? e : concatErrors(all, e)), undefined);
  return Object.fromEntries(
    signature.outputs.map((o) => {
      const passes = SPLIT_NAMES.map((s) => passOf(s, o.name)).filter((e): e is OutputErrors => e !== undefined);
      return [o.name, worstErrors(passes)];
    }),
  );
}
