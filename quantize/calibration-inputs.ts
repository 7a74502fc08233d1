/**
 * The calibration inputs: a reference-case file (a bundle's calibration.safetensors, else its
 * reference.safetensors; checkpoint/reference-cases) holding every input of the graph, one case or
 * several, checked against the graph's signature before anything runs, then handed out a case at a
 * time in batches. Only inputs are read. Refusals are QuantizeErrors naming the file, the case and the
 * tensor. It must not run models.
 */
import {
  openReferenceCases,
  ReferenceCaseError,
  type CaseDtype,
  type CaseValues,
  type ReferenceCases,
} from '../checkpoint';
import type { ModelSignature } from '../common/model-signature';
import { QuantizeError } from './quantize-error';

/** One graph input's rows in one batch. */
export interface CalibrationTensor {
  readonly name: string;
  readonly dtype: CaseDtype;
  readonly data: CaseValues;
  readonly dims: readonly number[];
}

export interface CalibrationInputs {
  readonly path: string;
  /** Samples over every case. */
  readonly samples: number;
  readonly cases: number;
  /** The graph's inputs, in graph order. */
  readonly inputs: readonly string[];
  /** Case by case (in name order), batches of at most `size` samples: every input's rows. */
  batches(size: number): AsyncGenerator<readonly CalibrationTensor[]>;
}

/** Opens `path` and checks that each case holds every input of `signature`, as the graph takes it. */
export async function openCalibrationInputs(path: string, signature: ModelSignature): Promise<CalibrationInputs> {
  let cases: ReferenceCases;
  try {
    cases = await openReferenceCases(path, signature, { tensors: 'inputs' });
  } catch (err) {
    if (!(err instanceof ReferenceCaseError)) throw err;
    // A malformed file stays the reader's CheckpointError; a missing input lists what the case has.
    const has = err.problem === 'missing' ? ` (has ${err.present?.join(', ') || 'no tensors'})` : '';
    throw new QuantizeError({ file: err.file, subject: err.subject, expected: err.expected, actual: err.actual + has });
  }
  const inputs = signature.inputs.map((t) => t.name);
  return {
    path,
    samples: cases.samples,
    cases: cases.cases.length,
    inputs,
    async *batches(size) {
      for (const c of cases.cases) {
        for (let first = 0; first < c.batch; first += size) {
          const n = Math.min(size, c.batch - first);
          const batch: CalibrationTensor[] = [];
          for (const name of inputs) {
            const t = c.tensors.get(name);
            if (t === undefined) throw new Error(`internal: calibration case '${c.name}' has no input '${name}'`);
            batch.push({
              name,
              dtype: t.dtype,
              data: await cases.rows(c, name, first, n),
              dims: [n, ...t.shape.slice(1)],
            });
          }
          yield batch;
        }
      }
    },
  };
}
