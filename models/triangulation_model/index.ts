/**
 * TriangulationModel (the training service's `triangulation_model`; shared/heimdall-models.md
 * section 2): `receiver_features` and `signal_mask` in, `position` and `log_variance` out. Its
 * parts are its config schema (config.ts), its weight check (weights.ts) and its graph and signature
 * (graph.ts); this file puts them together as the descriptor models/architectures.ts lists.
 */
import { defineArchitecture } from '../architecture';
import { ARCHITECTURE, CONFIG_FIELDS, parseTriangulationModelConfig } from './config';
import { BATCH_DIM, buildTriangulationModel, RECEIVERS_DIM, triangulationModelSignature } from './graph';
import { checkTriangulationModelWeights } from './weights';

export type { TriangulationModelConfig } from './config';
export { COUNT_NORMALISER, INPUTS, OUTPUTS, buildTriangulationModel, triangulationModelSignature } from './graph';
export { expectedShapes } from './weights';

export const triangulationModel = defineArchitecture({
  name: ARCHITECTURE,
  config: { fields: CONFIG_FIELDS, parse: parseTriangulationModelConfig },
  checkWeights: checkTriangulationModelWeights,
  signature: triangulationModelSignature,
  build: (input, options) => ({
    model: buildTriangulationModel(input, options),
    settings: {},
  }),
  referenceCases: () => ({
    batchDim: BATCH_DIM,
    caseDims: [RECEIVERS_DIM],
    description:
      'receiver_features [B, N, 6] and signal_mask [B, N] (bool, True = masked) with the position and ' +
      'log_variance PyTorch computed: cases with different receiver counts N (e.g. 7, 4 and 10) and batches, ' +
      'partial masks, and no case whose outputs are not finite (N = 1 gives NaN)',
  }),
});
