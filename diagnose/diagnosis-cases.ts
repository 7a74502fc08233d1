/**
 * The cases a diagnosis runs: a reference file's cases (every input of the graph, every case, read
 * whole: a case is what one parity run holds at once), or, without one, a synthetic case for a graph
 * whose inputs are all float32 with fixed sizes past the batch (uniform values in [-1, 1) from a
 * fixed seed, so two runs give the same diagnosis). Any other graph needs a reference, and says so
 * naming the input.
 *
 * Must not: run graphs.
 */
import { openReferenceCases } from '../checkpoint';
import type { Model } from '../onnx/ir';
import { graphSignature } from '../onnx/graph-signature';
import { DiagnoseError } from './diagnose-error';
import type { DiagnosisCase } from './layer-errors';

/** Samples of the synthetic case: more than one, so a batch-dependent bug shows. */
export const SYNTHETIC_BATCH = 2;
export const SYNTHETIC_SEED = 23;

export async function casesFromReference(
  model: Model,
  modelPath: string,
  referencePath: string,
): Promise<DiagnosisCase[]> {
  const signature = graphSignature(model);
  const reference = await openReferenceCases(referencePath, signature, { tensors: 'inputs' });
  const cases: DiagnosisCase[] = [];
  for (const c of reference.cases) {
    const inputs = new Map<string, { dims: readonly number[]; values: Float32Array | BigInt64Array | Uint8Array }>();
    for (const input of signature.inputs) {
      const t = c.tensors.get(input.name);
      if (t === undefined)
        throw new DiagnoseError({
          file: referencePath,
          subject: `${c.name === '' ? '' : `case '${c.name}': `}input '${input.name}' of ${modelPath}`,
          expected: 'a tensor',
          actual: 'none',
        });
      inputs.set(input.name, { dims: t.shape, values: await reference.rows(c, input.name, 0, c.batch) });
    }
    cases.push({ name: c.name, inputs });
  }
  return cases;
}

export function syntheticCase(model: Model, modelPath: string): DiagnosisCase {
  const inputs = new Map<string, { dims: readonly number[]; values: Float32Array }>();
  let seed = SYNTHETIC_SEED;
  for (const input of model.graph.inputs) {
    const rest = (input.shape ?? []).slice(1);
    if (input.dtype !== 'float32' || input.shape === undefined || !rest.every((d) => typeof d === 'number'))
      throw new DiagnoseError({
        file: modelPath,
        subject: `graph input '${input.name}'`,
        expected: 'float32 with fixed sizes past the batch (else pass --reference <reference.safetensors>)',
        actual: `${input.dtype ?? 'no type'} [${(input.shape ?? []).join(', ')}]`,
      });
    const dims = [SYNTHETIC_BATCH, ...(rest as number[])];
    inputs.set(input.name, {
      dims,
      values: uniformValues(
        dims.reduce((a, d) => a * d, 1),
        seed++,
      ),
    });
  }
  return { name: 'synthetic', inputs };
}

/** Uniform in [-1, 1) from an LCG: the same values on every platform. */
function uniformValues(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}
