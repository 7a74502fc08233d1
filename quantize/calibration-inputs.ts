/**
 * The calibration inputs: a safetensors file holding the model's input tensor (`mel_spectrogram` F32
 * [N, 3, mel_bins, frames]), a bundle's calibration.safetensors or its reference.safetensors, read a
 * batch at a time. It checks the tensor against the model's input before anything runs.
 */
import { formatShape, SafetensorsFile } from '../checkpoint';
import type { Shape } from '../onnx/ir';
import { QuantizeError } from './quantize-error';

export interface CalibrationInputs {
  readonly path: string;
  readonly tensor: string;
  readonly samples: number;
  /** Shape without the batch axis. */
  readonly sampleShape: readonly number[];
  rows(start: number, count: number): Promise<Float32Array>;
}

/** Opens `path` and checks its `tensor` is F32 [N ≥ 1, ...the model input's non-batch dims]. */
export async function openCalibrationInputs(
  path: string,
  tensor: string,
  modelInput: Shape,
): Promise<CalibrationInputs> {
  // A malformed file is the reader's CheckpointError, which names the file and what is wrong.
  const file = await SafetensorsFile.open(path);
  const expectedShape = `[N, ${modelInput.slice(1).join(', ')}] with N >= 1`;
  const fail = (subject: string, expected: string, actual: string): never => {
    throw new QuantizeError({ file: path, subject, expected, actual });
  };
  const t =
    file.get(tensor) ??
    fail(
      `tensor '${tensor}'`,
      `present (F32 ${expectedShape})`,
      `missing (has ${file.tensors.map((e) => e.name).join(', ') || 'no tensors'})`,
    );
  if (t.dtype !== 'F32') fail(`tensor '${tensor}'.dtype`, 'F32', t.dtype);
  const fixed = modelInput.slice(1);
  const matches =
    t.shape.length === modelInput.length &&
    (t.shape[0] as number) >= 1 &&
    fixed.every((d, i) => typeof d !== 'number' || d === t.shape[i + 1]);
  if (!matches) fail(`tensor '${tensor}'.shape`, expectedShape, formatShape(t.shape));
  return {
    path,
    tensor,
    samples: t.shape[0] as number,
    sampleShape: t.shape.slice(1),
    rows: (start, count) => file.readFloat32Rows(tensor, start, count),
  };
}
