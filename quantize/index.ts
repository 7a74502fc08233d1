export { quantizeOnnxFile } from './quantize-model';
export type { QuantizeRequest, QuantizationReport } from './quantize-model';
export { CALIBRATION_METHODS, DEFAULT_CALIBRATION_METHOD, type CalibrationMethod } from './calibration-methods';
export { QuantizeError } from './quantize-error';
