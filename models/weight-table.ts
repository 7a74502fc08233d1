/**
 * The weight check every architecture shares: a state_dict's expected key → shape table against a
 * weights file, with every missing, unexpected, wrong-dtype and wrong-shape tensor reported in one
 * ModelError. The table is the architecture's (its weights.ts); which keys a file may hold beyond
 * it (BatchNorm's `num_batches_tracked` counters) is this module's one rule. It must not read tensor
 * data nor know any architecture.
 */
import { formatShape, type WeightsFile } from '../checkpoint';
import { ModelError, type TensorMismatch } from './model-error';

/** BatchNorm's step counter: an int64 scalar no eval graph reads, so a state_dict may hold it or not. */
export const isIgnoredTensor = (name: string): boolean => name.endsWith('.num_batches_tracked');

/** Refuses weights that differ from `expected` (float32 tensors by name) in any name, shape or dtype, all at once. */
export function checkWeightTable(
  weights: WeightsFile,
  expected: ReadonlyMap<string, readonly number[]>,
  against: string,
): void {
  const missing: string[] = [];
  const mismatches: TensorMismatch[] = [];
  for (const [name, shape] of expected) {
    const t = weights.get(name);
    if (!t) missing.push(name);
    else if (t.dtype !== 'F32')
      mismatches.push({
        tensor: name,
        expected: `F32 ${formatShape(shape)}`,
        actual: `${t.dtype} ${formatShape(t.shape)}`,
      });
    else if (formatShape(t.shape) !== formatShape(shape))
      mismatches.push({ tensor: name, expected: formatShape(shape), actual: formatShape(t.shape) });
  }
  const unexpected = weights.tensors.map((t) => t.name).filter((n) => !expected.has(n) && !isIgnoredTensor(n));
  if (missing.length || unexpected.length || mismatches.length) {
    throw new ModelError({ file: weights.path, against, missing, unexpected: unexpected.sort(), mismatches });
  }
}
