/**
 * How an activation's quantization range is chosen from what calibration saw. Constants only, so the
 * CLI's option defaults can import them without loading onnxruntime.
 */
export const CALIBRATION_METHODS = ['minmax', 'percentile', 'entropy'] as const;
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];
/** Chosen by measurement (docs/quantization.md). */
export const DEFAULT_CALIBRATION_METHOD: CalibrationMethod = 'percentile';
