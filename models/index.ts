/**
 * models/: architectures as plug-ins (one folder each, listed in architectures.ts) from a state_dict
 * to the ONNX IR, the bundle loader, and emission (a bundle to an ONNX file, or a bundle's own graph
 * staged as it is). Public surface.
 */
export { ModelError } from './model-error';
export type { ModelErrorContext, TensorMismatch } from './model-error';
export { defineArchitecture } from './architecture';
export type {
  Architecture,
  ArchitectureDescriptor,
  BuildOptions,
  BuiltGraph,
  Configured,
  ReferenceCases,
} from './architecture';
export { ARCHITECTURES, architectureNames, configureArchitecture } from './architectures';
export type { ArchitectureConfig } from './architectures';
export { loadBundle, openBundle, parseBundleConfig, readBundleKind } from './bundle';
export type { Bundle, LoadBundleOptions, OpenedBundle } from './bundle';
export { BATCH_NORM_EPSILON, scaleRows } from './folding';
export { emitBundle, emitFromWeights } from './emit';
export type { EmitOptions, EmitResult } from './emit';
export { stageBroughtGraph } from './brought-graph';
export {
  BATCH_DIM,
  buildLocalizationNet,
  checkWeights,
  CONVNEXT_PRESETS,
  expectedShapes,
  inferLayout,
  INPUT_NAME,
  localizationNet,
  OUTPUT_NAMES,
  resolveLayout,
} from './localizationnet';
export type { BuiltModel, ConvNextLayout, LocalizationNetConfig, PresetName } from './localizationnet';
