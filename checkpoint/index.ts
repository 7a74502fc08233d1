/**
 * checkpoint/: the weights file (safetensors, or a torch.save checkpoint read by a restricted
 * unpickler), the bundle's layout, config.json's envelope and the reference cases.
 * The public surface; nothing here interprets weights (models/' architectures do).
 */
export { CheckpointError, formatShape } from './checkpoint-error';
export type { CheckpointErrorContext } from './checkpoint-error';
export { SAFETENSORS_DTYPES, isSafetensorsDtype } from './safetensors-dtypes';
export type { SafetensorsDtype } from './safetensors-dtypes';
export { MAX_HEADER_BYTES, parseHeader, parseHeaderLength } from './safetensors-header';
export type { SafetensorsHeader, TensorEntry } from './safetensors-header';
export { SafetensorsFile } from './safetensors-file';
export { readFileRange } from './file-ranges';
export type { FileRange } from './file-ranges';
export { TensorRangeFile } from './weights-file';
export type { ScanOptions, WeightsFile } from './weights-file';
export { hashWeightsFile } from './sha256-worker';
export type { FiniteCheckRange, HashResult } from './sha256-worker';
export { findNonFinite } from './finite-scan';
export { configEnvelope, configRefusal, finiteNumber, parseRunId, positiveInts, readConfigJson } from './bundle-config';
export type { BundleConfig, ConfigEnvelope, ConfigRefusal } from './bundle-config';
export {
  BUNDLE_FILES,
  BundleLayoutError,
  OPTIONAL_FILES,
  REQUIRED_FILES,
  TORCH_CHECKPOINT_EXTENSIONS,
  bundleKind,
  bundleLayout,
  isTorchCheckpoint,
  weightsFileOf,
} from './bundle-layout';
export { MAX_PICKLE_BYTES, TorchCheckpointFile } from './torch-checkpoint';
export type { CheckpointSettings, JsonValue, WeightsSource } from './torch-checkpoint';
export { ALLOWED_GLOBALS } from './restricted-unpickler';
export type { BundleKind, BundleLayout, LayoutRefusal, LayoutVerdict } from './bundle-layout';
export { openWeights, openWeightsFile, verifyWeights } from './open-weights';
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
