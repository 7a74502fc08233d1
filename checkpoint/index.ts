/**
 * checkpoint/: safetensors reader, the bundle's layout, config.json's envelope and the weights file.
 * The public surface; nothing here interprets weights (models/' architectures do).
 */
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
export { configEnvelope, configRefusal, finiteNumber, parseRunId, positiveInts, readConfigJson } from './bundle-config';
export type { BundleConfig, ConfigEnvelope, ConfigRefusal } from './bundle-config';
export {
  BUNDLE_FILES,
  BundleLayoutError,
  OPTIONAL_FILES,
  REQUIRED_FILES,
  bundleKind,
  bundleLayout,
} from './bundle-layout';
export type { BundleKind, BundleLayout, LayoutRefusal, LayoutVerdict } from './bundle-layout';
export { openWeights } from './open-weights';
export type { OpenedWeights, OpenWeightsOptions } from './open-weights';
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
