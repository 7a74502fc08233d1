/**
 * A weight as a float32 initializer, whatever float dtype its weights file stores: an F32 tensor is a
 * file range of the weights file (the serializer streams it, nothing is copied), and an F16 or BF16
 * one (a half-precision checkpoint) is a lazy tensor that WeightsFile.readFloat32 widens when the
 * serializer writes it. For plug-ins whose weight check accepts half-precision weights. It must not
 * read tensor data while the graph is built, nor decide which dtypes an architecture accepts.
 */
import type { WeightsFile } from '../checkpoint';
import { fileTensor, lazyTensor, type Tensor } from '../onnx/ir';

/** The weight `key` as a float32 tensor named `key`, with `dims` (default: its own shape). */
export function float32Weight(weights: WeightsFile, key: string, dims?: readonly number[]): Tensor {
  const t = weights.require(key);
  const shape = dims ?? t.shape;
  if (t.dtype === 'F32') return fileTensor(key, 'float32', shape, weights.path, t.offset, t.length);
  return lazyTensor(key, 'float32', shape, async () => {
    const values = await weights.readFloat32(key);
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  });
}
