/**
 * LocalizationNet (torchvision ConvNeXt features + avgpool, two MLP heads; shared/DESIGN.md): one
 * mel spectrogram in, `positions` and `uncertainties` out. The plug-in's parts are its config schema
 * (config.ts), its weight check (weights.ts) and its graph and signature (graph.ts); this file puts
 * them together as the descriptor models/architectures.ts lists.
 */
import { defineArchitecture } from '../architecture';
import { CONFIG_FIELDS, parseLocalizationNetConfig } from './config';
import { BATCH_DIM, buildChecked, checkLocalizationNetWeights, localizationNetSignature } from './graph';

export { CONVNEXT_PRESETS } from './config';
export type { BackboneName, LocalizationNetConfig, PresetName } from './config';
export { checkWeights, expectedShapes, inferLayout, resolveLayout } from './weights';
export type { ConvNextLayout } from './weights';
export {
  BATCH_DIM,
  buildLocalizationNet,
  CONVNEXT_LAYER_NORM_EPSILON,
  INPUT_NAME,
  localizationNetSignature,
  OUTPUT_NAMES,
  STACK_BATCH_MAX_PIXELS,
} from './graph';
export type { BuiltModel, LocalizationNetBundle } from './graph';

export const localizationNet = defineArchitecture({
  name: 'LocalizationNet',
  config: { fields: CONFIG_FIELDS, parse: parseLocalizationNetConfig },
  checkWeights: checkLocalizationNetWeights,
  signature: localizationNetSignature,
  build({ config, checked, weights, weightsSha256 }, options) {
    const { model, layout } = buildChecked({ config, weights, weightsSha256 }, checked, options);
    return {
      model,
      settings: {
        backbone: config.backbone,
        depths: JSON.stringify(layout.depths),
        dims: JSON.stringify(layout.dims),
      },
    };
  },
  referenceCases: () => ({
    batchDim: BATCH_DIM,
    caseDims: [],
    description:
      'mel_spectrogram [B, 3, mel_bins, frames] at the config input_shape, with the positions and uncertainties ' +
      'PyTorch computed for it; one case is enough, since only the batch varies',
  }),
});
