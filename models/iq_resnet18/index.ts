/**
 * IQResNet18 (the training service's `iq_resnet18`; shared/heimdall-models.md section 3):
 * `iq_samples` and `receiver_mask` in, `positions` and `uncertainties` out. Its parts are its config
 * schema (config.ts), its weight check (weights.ts) and its graph and signature (graph.ts); this
 * file puts them together as the descriptor models/architectures.ts lists.
 */
import { defineArchitecture } from '../architecture';
import { ARCHITECTURE, CONFIG_FIELDS, parseIqResNet18Config, recordedSettings } from './config';
import { BATCH_DIM, buildIqResNet18, iqResNet18Signature, LENGTH_DIM, RECEIVERS_DIM } from './graph';
import { checkIqResNet18Weights } from './weights';

export type { IqResNet18Config } from './config';
export { INPUTS, OUTPUTS, buildIqResNet18, iqResNet18Signature } from './graph';
export { expectedShapes } from './weights';

export const iqResNet18 = defineArchitecture({
  name: ARCHITECTURE,
  config: { fields: CONFIG_FIELDS, parse: parseIqResNet18Config },
  checkWeights: checkIqResNet18Weights,
  signature: iqResNet18Signature,
  build: (input, options) => ({
    model: buildIqResNet18(input, options),
    settings: recordedSettings(input.config),
  }),
  referenceCases: () => ({
    batchDim: BATCH_DIM,
    caseDims: [RECEIVERS_DIM, LENGTH_DIM],
    description:
      'iq_samples [B, N, 2, L] and receiver_mask [B, N] (bool, True = masked) with the positions and ' +
      'uncertainties PyTorch computed: cases with different receiver counts N (e.g. 7, 4 and 10), IQ lengths L ' +
      '(e.g. 1024 and 10000) and batches, partial masks, and no case whose outputs are not finite (N = 1 or ' +
      'every receiver masked gives NaN)',
  }),
});
