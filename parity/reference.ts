/**
 * The reference file (reference.safetensors: mel_spectrogram [N,C,H,W], positions [N,2],
 * uncertainties [N,2], float32) opened and shape-checked, with batch reads by positioned I/O so a
 * large N never sits in memory. It must not run models.
 */
import { formatShape, SafetensorsFile } from '../checkpoint';
import { ParityError } from './parity-error';

export const REFERENCE_INPUT = 'mel_spectrogram';
export const REFERENCE_OUTPUTS = ['positions', 'uncertainties'] as const;
export type ReferenceOutput = (typeof REFERENCE_OUTPUTS)[number];
/** Width of each output row (x/y position, x/y uncertainty). */
export const OUTPUT_WIDTH = 2;

export interface Reference {
  readonly path: string;
  readonly samples: number;
  /** Input shape without the batch axis. */
  readonly inputShape: readonly number[];
  /** Rows [start, start+count) of a tensor as float32. */
  rows(name: typeof REFERENCE_INPUT | ReferenceOutput, start: number, count: number): Promise<Float32Array>;
}

export async function openReference(path: string): Promise<Reference> {
  const file = await SafetensorsFile.open(path);
  const fail = (subject: string, expected: string, actual: string): never => {
    throw new ParityError({ file: path, subject, expected, actual });
  };
  const input =
    file.get(REFERENCE_INPUT) ??
    fail(`tensor '${REFERENCE_INPUT}'`, 'present (F32 [N, 3, mel_bins, frames])', 'missing');
  if (input.dtype !== 'F32') fail(`tensor '${REFERENCE_INPUT}'.dtype`, 'F32', input.dtype);
  if (input.shape.length !== 4 || input.shape[0] === 0)
    fail(`tensor '${REFERENCE_INPUT}'.shape`, '[N, 3, mel_bins, frames] with N >= 1', formatShape(input.shape));
  const samples = input.shape[0] as number;
  for (const name of REFERENCE_OUTPUTS) {
    const t = file.get(name) ?? fail(`tensor '${name}'`, `present (F32 [${samples}, ${OUTPUT_WIDTH}])`, 'missing');
    if (t.dtype !== 'F32') fail(`tensor '${name}'.dtype`, 'F32', t.dtype);
    if (formatShape(t.shape) !== formatShape([samples, OUTPUT_WIDTH]))
      fail(`tensor '${name}'.shape`, formatShape([samples, OUTPUT_WIDTH]), formatShape(t.shape));
  }
  return {
    path,
    samples,
    inputShape: input.shape.slice(1),
    rows: (name, start, count) => file.readFloat32Rows(name, start, count),
  };
}
