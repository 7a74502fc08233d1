/**
 * HeimdallNet (`heimdall_net`, the training service's recommended model; spec section 1): per-receiver
 * IQ, scalar features, positions, ids and an active-receiver mask in, `position` and `uncertainty`
 * out, for any batch, receiver count and IQ length. The plug-in's parts are its config schema
 * (config.ts), its weight check (weights.ts) and its graph and signature (graph.ts); this file puts
 * them together as the descriptor models/architectures.ts lists.
 */
import { defineArchitecture } from '../architecture';
import { ARCHITECTURE_NAME, CONFIG_FIELDS, parseHeimdallNetConfig } from './config';
import { BATCH_DIM, buildHeimdallNet, heimdallNetSignature, RECEIVERS_DIM, SEQUENCE_DIM } from './graph';
import { checkHeimdallNetWeights } from './weights';

export type { HeimdallNetConfig } from './config';
export { buildHeimdallNet, heimdallNetSignature, INPUTS, OUTPUTS } from './graph';
export { checkHeimdallNetWeights, expectedShapes, resolveLayout } from './weights';
export type { HeimdallNetLayout } from './weights';

export const heimdallNet = defineArchitecture({
  name: ARCHITECTURE_NAME,
  config: { fields: CONFIG_FIELDS, parse: parseHeimdallNetConfig },
  checkWeights: checkHeimdallNetWeights,
  signature: heimdallNetSignature,
  build({ config, checked, weights, weightsSha256 }, options) {
    return {
      model: buildHeimdallNet({ config, layout: checked, weights, weightsSha256 }, options),
      settings: { max_receivers: String(checked.maxReceivers), use_calibration: String(checked.useCalibration) },
    };
  },
  referenceCases: () => ({
    batchDim: BATCH_DIM,
    caseDims: [RECEIVERS_DIM, SEQUENCE_DIM],
    description:
      'iq_data [B, N, 2, L], features [B, N, 6], positions [B, N, 3], receiver_ids [B, N] (int64, in [0, R)) and ' +
      'mask [B, N] (bool, True = active), with the position and uncertainty PyTorch computed; cases should vary ' +
      'the receiver count N and the IQ length L, use permuted and repeated ids, and mask some receivers',
  }),
});
