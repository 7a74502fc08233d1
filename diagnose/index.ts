/**
 * diagnose/: where a graph parts from its baseline (another graph, or PyTorch's intermediates),
 * layer by layer, in bounded memory. The public surface.
 */
export { compareGraphIntermediates, DEFAULT_MAX_CHUNK_BYTES } from './layer-errors';
export type { CompareOptions, DiagnosisCase, TensorError } from './layer-errors';
export { compareWithReferenceIntermediates } from './reference-intermediates';
export { casesFromReference, syntheticCase } from './diagnosis-cases';
export { aboveTolerance, divergenceFinding, divergenceLine, judge } from './diagnosis';
export type { Diagnosis, JudgedTensor, Tolerances } from './diagnosis';
export { errorPlotSvg } from './error-plot';
export { runDiagnosis } from './run-diagnosis';
export type { DiagnoseOptions } from './run-diagnosis';
export { DiagnoseError } from './diagnose-error';
