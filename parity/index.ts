/** parity/: onnxruntime-node run of an ONNX model against PyTorch reference outputs. Public surface. */
export { runParity } from './run-parity';
export { DEFAULT_PARITY_BATCH, DEFAULT_TOLERANCES } from './tolerances';
export type { ParityOptions, ParityReport } from './run-parity';
export { ErrorAccumulator, RELATIVE_ERROR_FLOOR } from './error-stats';
export type { OutputErrors } from './error-stats';
export { openReference, REFERENCE_INPUT, REFERENCE_OUTPUTS } from './reference';
export type { Reference, ReferenceOutput } from './reference';
export { ParityError } from './parity-error';
