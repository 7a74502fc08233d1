/** parity/: onnxruntime-node run of an ONNX model against PyTorch reference outputs. Public surface. */
export { runParity } from './run-parity';
export { DEFAULT_PARITY_BATCH, DEFAULT_TOLERANCES } from './tolerances';
export type { ParityOptions } from './run-parity';
export type { CaseParity, ParityReport, SplitParity } from './parity-report';
export { ErrorAccumulator, RELATIVE_ERROR_FLOOR, concatErrors, worstErrors } from './error-stats';
export type { OutputErrors } from './error-stats';
export { batchSplits, describeSizes, SPLIT_NAMES } from './batch-splits';
export type { Partition, SplitName } from './batch-splits';
export { openParityReference, readGraphSignature } from './reference';
export { ParityError } from './parity-error';
export { ParityFailedError } from './parity-failed';
export { gateEvaluation, type GateEvaluation } from './gate-score';
