/**
 * fp32 ONNX file + calibration inputs → int8 QDQ ONNX file. Work in progress: the signature is the
 * contract the CLI and the pipeline's quantize activity build on.
 */
import type { CalibrationMethod } from './calibration-methods';

/** Where calibration inputs came from, for the report. */
export type CalibrationSource = 'calibration.safetensors' | 'reference.safetensors' | 'file';

export interface QuantizeRequest {
  /** The validated fp32 graph. */
  readonly modelPath: string;
  /** A safetensors file with `mel_spectrogram` F32 [N, 3, mel_bins, frames]. */
  readonly calibrationPath: string;
  readonly calibrationSource?: CalibrationSource;
  /** The int8 graph is written here (atomically: a temporary file renamed). */
  readonly outputPath: string;
  readonly method?: CalibrationMethod;
}

export interface QuantizationReport {
  readonly method: CalibrationMethod;
  readonly calibration: {
    readonly path: string;
    readonly source: CalibrationSource;
    readonly samples: number;
    readonly tensor: string;
  };
  /** Quantized nodes by op type (Conv, MatMul, Gemm). */
  readonly quantizedNodes: Readonly<Record<string, number>>;
  /** Nodes left in float32. */
  readonly floatNodes: number;
  readonly fp32Bytes: number;
  readonly output: { readonly path: string; readonly bytes: number; readonly sha256: string };
  /** output.bytes / fp32Bytes. */
  readonly sizeRatio: number;
  readonly seconds: number;
}

export async function quantizeOnnxFile(request: QuantizeRequest): Promise<QuantizationReport> {
  throw new Error(`quantizeOnnxFile(${request.modelPath}): not written yet`);
}
