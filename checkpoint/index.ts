/** checkpoint/: safetensors reader and bundle loader. The public surface; nothing here interprets weights. */
export { CheckpointError, formatShape } from './checkpoint-error';
export type { CheckpointErrorContext } from './checkpoint-error';
export { SAFETENSORS_DTYPES, isSafetensorsDtype } from './safetensors-dtypes';
export type { SafetensorsDtype } from './safetensors-dtypes';
export { MAX_HEADER_BYTES, parseHeader, parseHeaderLength } from './safetensors-header';
export type { SafetensorsHeader, TensorEntry } from './safetensors-header';
export { SafetensorsFile, readFileRange } from './safetensors-file';
export { hashFileInWorker } from './sha256-worker';
export type { FiniteCheckRange, HashResult } from './sha256-worker';
export type { FileRange, ScanOptions } from './safetensors-file';
export { findNonFinite } from './finite-scan';
export { CONVNEXT_PRESETS, parseBundleConfig } from './bundle-config';
export type { BackboneName, BundleConfig, PresetName } from './bundle-config';
export {
  BUNDLE_FILES,
  OPTIONAL_BUNDLE_FILES,
  REQUIRED_BUNDLE_FILES,
  loadBundle,
  openBundle,
  readConfig,
} from './bundle';
export type { Bundle, LoadBundleOptions, OpenedBundle } from './bundle';
export { CASE_FILE_DTYPES, CASE_NAME_PATTERN, casePrefix, openReferenceCases } from './reference-cases';
export type {
  CaseDtype,
  CaseTensor,
  CaseValues,
  OpenReferenceCasesOptions,
  ReferenceCase,
  ReferenceCases,
} from './reference-cases';
export { ReferenceCaseError } from './reference-case-error';
export type { ReferenceCaseErrorContext, ReferenceProblem } from './reference-case-error';
