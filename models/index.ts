/** models/: architectures from a state_dict to the ONNX IR (LocalizationNet over ConvNeXt). Public surface. */
export { ModelError } from './model-error';
export type { ModelErrorContext, TensorMismatch } from './model-error';
export { checkWeights, expectedShapes, inferLayout, resolveLayout } from './localizationnet-spec';
export type { ConvNextLayout } from './localizationnet-spec';
export { BATCH_DIM, buildLocalizationNet, INPUT_NAME, OUTPUT_NAMES } from './localizationnet-graph';
export type { BuildOptions, BuiltModel } from './localizationnet-graph';
export { BATCH_NORM_EPSILON, scaleRows } from './folding';
export { emitLocalizationNet } from './emit';
export type { EmitOptions, EmitResult } from './emit';
