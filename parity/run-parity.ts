/**
 * Parity: runs an ONNX model with onnxruntime-node on the reference inputs, batch by batch, and
 * compares each output with PyTorch's (MAE, max absolute and relative error, NaN/Inf). Returns a plain
 * JSON ParityReport; over-tolerance is a report with `passed: false`. It must not emit or edit models.
 */
import * as ort from 'onnxruntime-node';
import { formatShape } from '../checkpoint';
import { ErrorAccumulator, type OutputErrors } from './error-stats';
import { ParityError } from './parity-error';
import { DEFAULT_PARITY_BATCH, DEFAULT_TOLERANCES } from './tolerances';
import { openReference, REFERENCE_INPUT, REFERENCE_OUTPUTS, type ReferenceOutput } from './reference';

export interface ParityOptions {
  readonly mae?: number;
  readonly maxAbs?: number;
  readonly batchSize?: number;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  readonly threads?: number;
}

export interface ParityReport {
  readonly model: string;
  readonly reference: string;
  readonly samples: number;
  readonly batchSize: number;
  readonly tolerances: { readonly mae: number; readonly maxAbs: number };
  readonly outputs: Readonly<Record<ReferenceOutput, OutputErrors>>;
  readonly passed: boolean;
  /** One line per failed check, e.g. `positions: MAE 3.2e-4 > 1e-5`. */
  readonly failures: readonly string[];
  readonly seconds: number;
}

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
  const reference = await openReference(referencePath);
  const session = await ort.InferenceSession.create(modelPath, {
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
  });
  try {
    checkSession(session, modelPath, reference.inputShape);
    const acc = { positions: new ErrorAccumulator(), uncertainties: new ErrorAccumulator() };
    for (let first = 0; first < reference.samples; first += batchSize) {
      const n = Math.min(batchSize, reference.samples - first);
      const x = await reference.rows(REFERENCE_INPUT, first, n);
      const out = await session.run({ [REFERENCE_INPUT]: new ort.Tensor('float32', x, [n, ...reference.inputShape]) });
      for (const name of REFERENCE_OUTPUTS) {
        const got = out[name];
        if (!got || got.type !== 'float32' || formatShape(got.dims) !== formatShape([n, 2])) {
          throw new ParityError({
            file: modelPath,
            subject: `output '${name}'`,
            expected: `float32 [${n}, 2]`,
            actual: got ? `${got.type} ${formatShape(got.dims)}` : 'missing',
          });
        }
        acc[name].add(got.data as Float32Array, await reference.rows(name, first, n));
      }
    }
    const outputs = { positions: acc.positions.result(), uncertainties: acc.uncertainties.result() };
    const failures = REFERENCE_OUTPUTS.flatMap((name) => judge(name, outputs[name], tolerances));
    return {
      model: modelPath,
      reference: referencePath,
      samples: reference.samples,
      batchSize,
      tolerances,
      outputs,
      passed: failures.length === 0,
      failures,
      seconds: Number(process.hrtime.bigint() - start) / 1e9,
    };
  } finally {
    await session.release();
  }
}

function judge(name: string, e: OutputErrors, t: { mae: number; maxAbs: number }): string[] {
  const f: string[] = [];
  if (e.nonFiniteOutputs > 0) f.push(`${name}: ${e.nonFiniteOutputs} NaN/Inf values in the model's output`);
  if (e.nonFiniteReference > 0) f.push(`${name}: ${e.nonFiniteReference} NaN/Inf values in the reference`);
  if (!(e.mae <= t.mae)) f.push(`${name}: MAE ${e.mae.toExponential(3)} > ${t.mae}`);
  if (!(e.maxAbs <= t.maxAbs))
    f.push(`${name}: max abs error ${e.maxAbs.toExponential(3)} > ${t.maxAbs} (at element ${e.maxAbsIndex})`);
  return f;
}

/** The model must take `mel_spectrogram` with the reference's per-sample shape and give both outputs. */
function checkSession(session: ort.InferenceSession, modelPath: string, inputShape: readonly number[]): void {
  const input = session.inputMetadata.find((m) => m.name === REFERENCE_INPUT);
  if (!input) {
    throw new ParityError({
      file: modelPath,
      subject: `input '${REFERENCE_INPUT}'`,
      expected: 'present',
      actual: `inputs ${JSON.stringify(session.inputNames)}`,
    });
  }
  if (input.isTensor && input.shape.length > 0) {
    const modelShape = input.shape.slice(1);
    const fits =
      modelShape.length === inputShape.length &&
      modelShape.every((d, i) => typeof d !== 'number' || d === inputShape[i]);
    if (!fits) {
      throw new ParityError({
        file: modelPath,
        subject: `input '${REFERENCE_INPUT}'`,
        expected: `[N, ${inputShape.join(', ')}] (the reference's)`,
        actual: formatShape(input.shape.map(String) as unknown as number[]),
      });
    }
  }
  for (const name of REFERENCE_OUTPUTS) {
    if (!session.outputNames.includes(name)) {
      throw new ParityError({
        file: modelPath,
        subject: `output '${name}'`,
        expected: 'present',
        actual: `outputs ${JSON.stringify(session.outputNames)}`,
      });
    }
  }
}
