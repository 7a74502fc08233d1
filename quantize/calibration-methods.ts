/**
 * How an activation's quantization range is chosen from what calibration saw (activation-ranges.ts).
 * The names are part of the export request, so they live in common/; constants only, so the CLI's
 * option defaults can import them without loading onnxruntime.
 */
import { CALIBRATION_METHODS, type CalibrationMethodName } from '../common/export-contract';

export { CALIBRATION_METHODS };
export type CalibrationMethod = CalibrationMethodName;
/**
 * Percentile: on convnext_tiny it gave the lowest error against PyTorch of the three, calibrated and
 * evaluated on disjoint inputs (docs/quantization.md).
 */
export const DEFAULT_CALIBRATION_METHOD: CalibrationMethod = 'percentile';
