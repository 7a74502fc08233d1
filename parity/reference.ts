/**
 * The parity reference: the graph's signature, read from the ONNX file, and the reference cases
 * (checkpoint/reference-cases) checked against it, every refusal restated as a ParityError. A
 * reference whose input has other fixed sizes than the graph's is told from the graph's side ("the
 * model's input takes …"), as parity always said it. It must not run models.
 */
import { casePrefix, openReferenceCases, ReferenceCaseError, type ReferenceCases } from '../checkpoint';
import type { ModelSignature } from '../common/model-signature';
import { graphSignature } from '../onnx/graph-signature';
import { readModel } from '../onnx/serialize-read';
import { ParityError } from './parity-error';

/** The signature of the graph at `modelPath`; a graph whose inputs or outputs cannot be fed or compared is a ParityError. */
export async function readGraphSignature(modelPath: string): Promise<ModelSignature> {
  const model = await readModel(modelPath);
  try {
    return graphSignature(model);
  } catch (err) {
    throw new ParityError({
      file: modelPath,
      subject: 'graph signature',
      expected: 'inputs and outputs of float32, int64 or bool with declared shapes',
      actual: err instanceof Error ? err.message : String(err),
    });
  }
}

export async function openParityReference(
  referencePath: string,
  signature: ModelSignature,
  modelPath: string,
): Promise<ReferenceCases> {
  try {
    return await openReferenceCases(referencePath, signature);
  } catch (err) {
    if (!(err instanceof ReferenceCaseError)) throw err;
    if (err.problem === 'fixed-dim' && err.role === 'input' && err.fileShape && err.graphDims) {
      throw new ParityError({
        file: modelPath,
        subject: `${casePrefix({ name: err.caseName ?? '' })}input '${err.tensor ?? ''}'`,
        expected: `[N, ${err.fileShape.slice(1).join(', ')}] (the reference's)`,
        actual: `[${err.graphDims.map((d) => (d === '' ? '?' : String(d))).join(', ')}]`,
      });
    }
    throw new ParityError({ file: err.file, subject: err.subject, expected: err.expected, actual: err.actual });
  }
}
