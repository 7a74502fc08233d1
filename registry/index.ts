/** registry/: MLflow REST client, MLflow model directory writer, idempotent version registration. Public API only. */
export {
  MlflowApiError,
  MlflowClient,
  MlflowTransportError,
  createMlflowClient,
  isRetryableMlflowError,
} from './mlflow-client';
export type { MlflowAccess } from './mlflow-client';
export type { MlflowConnectionSettings } from './mlflow-connection';
export type { ModelVersion, RegisteredModel, CreateModelVersionRequest } from './mlflow-client';
export {
  publishModelDirectory,
  renderMlmodel,
  renderSupportFiles,
  mlflowTensorSpecs,
  MLFLOW_FORMAT_VERSION,
} from './model-directory';
export type { ModelDirectoryInput, PublishedModel } from './model-directory';
export { registerModelVersion, sha256Filter, versionTags, VERSION_TAGS } from './register-model-version';
export type { ModelRegistryApi, RegisterModelInput, RegistryEntry } from './register-model-version';
export { PROVENANCE_KEYS, provenanceEntries, validateProvenance } from './graph-provenance';
export type { GraphProvenance } from './graph-provenance';
export { RegistrationError, RegistryInputError } from './registry-error';
export {
  checkPromotion,
  evaluateGates,
  moveToStage,
  pointAlias,
  validatePromoteRequest,
  versionsInStage,
} from './promote-version';
export type { PromotionRegistryApi } from './promote-version';
