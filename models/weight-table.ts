/**
 * The check every architecture's weights go through once it knows the state_dict it expects: each
 * expected tensor present as F32 with its shape, nothing else but what the architecture accepts. Every
 * missing, unexpected and mismatched tensor is reported in one ModelError. It must not read tensor data.
 */
import { formatShape, type WeightsFile } from '../checkpoint';
import { ModelError, type TensorMismatch } from './model-error';

/**
 * Refuses `weights` unless they hold exactly `expected` (name → shape, all F32) plus tensors `accepted`
 * allows (e.g. BatchNorm step counters); `against` names the layout in the message.
 */
export function checkWeightTable(
  weights: WeightsFile,
  expected: ReadonlyMap<string, readonly number[]>,
  against: string,
  accepted: (name: string) => boolean,
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
  const unexpected = weights.tensors.map((t) => t.name).filter((n) => !expected.has(n) && !accepted(n));
  if (missing.length || unexpected.length || mismatches.length) {
    throw new ModelError({ file: weights.path, against, missing, unexpected: unexpected.sort(), mismatches });
  }
}
