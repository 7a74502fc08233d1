/**
 * LocalizationNet (torchvision ConvNeXt features + avgpool, two MLP heads) as an ONNX IR graph, in
 * eval semantics: dropout and stochastic depth vanish, BatchNorm1d is folded into the preceding Linear
 * and layer_scale into the block's second pointwise layer.
 *
 * Graph shape, chosen by measuring onnxruntime (see the report of issue 3): activations stay NCHW; the
 * block's pointwise Linears are 1x1 Convs (their weights are the state_dict bytes as they are, so
 * emission streams them), and only LayerNorm goes through NHWC (Transpose, LayerNormalization,
 * Transpose). avgpool+flatten is one ReduceMean. Weights that are not folded stay file ranges.
 *
 * It must not read tensor data (folds are lazy) nor write files (emit.ts does).
 */
import type { Bundle } from '../checkpoint';
import { GraphBuilder } from '../onnx/builder';
import { DEFAULT_OPSET, fileTensor, float32Tensor, type Model } from '../onnx/ir';
import { batchNormFolded, layerScaled } from './folding';
import { gelu, layerNormChannels } from './graph-ops';
import {
  checkWeights, downsampleIndex, FEATURES, HEAD_LINEARS, HEAD_NORMS, resolveLayout, stageIndex, type ConvNextLayout,
} from './localizationnet-spec';
import { ModelError } from './model-error';

/** torchvision ConvNeXt's LayerNorm and LayerNorm2d epsilon (`partial(nn.LayerNorm, eps=1e-6)`). */
export const CONVNEXT_LAYER_NORM_EPSILON = 1e-6;
/** ONNX names Heimdall's inference service loads (shared/DESIGN.md, "Contracts"). */
export const INPUT_NAME = 'mel_spectrogram';
export const OUTPUT_NAMES = { positions: 'positions', uncertainties: 'uncertainties' } as const;
export const BATCH_DIM = 'batch_size';

export interface BuildOptions {
  readonly opset?: number;
  /** Training run id for metadata; default the config's `run_id`, else ''. */
  readonly runId?: string;
}

export interface BuiltModel {
  readonly model: Model;
  readonly layout: ConvNextLayout;
}

/** Checks the bundle's weights against its config and returns the graph (no tensor data is read). */
export function buildLocalizationNet(bundle: Bundle, options: BuildOptions = {}): BuiltModel {
  const { config, weights } = bundle;
  const { layout, against } = resolveLayout(config, weights);
  checkWeights(weights, layout, against);
  const [, height, width] = config.inputShape;
  checkSpatial(height, width, layout, weights.path, against);

  const b = new GraphBuilder({ opset: options.opset ?? DEFAULT_OPSET, graphName: 'LocalizationNet' });
  const file = (key: string, dims?: readonly number[]): string => {
    const t = weights.require(key);
    return b.initializer(fileTensor(key, 'float32', dims ?? t.shape, weights.path, t.offset, t.length));
  };
  const f = FEATURES;
  const eps = CONVNEXT_LAYER_NORM_EPSILON;

  let x = b.input(INPUT_NAME, 'float32', [BATCH_DIM, ...config.inputShape]);
  x = b.conv(`${f}.0.0`, x, file(`${f}.0.0.weight`), file(`${f}.0.0.bias`), { kernelShape: [4, 4], strides: [4, 4] });
  x = layerNormChannels(b, `${f}.0.1`, x, file(`${f}.0.1.weight`), file(`${f}.0.1.bias`), eps);

  layout.depths.forEach((depth, s) => {
    const d = layout.dims[s] as number;
    for (let j = 0; j < depth; j++) {
      const p = `${f}.${stageIndex(s)}.${j}`;
      let y = b.conv(`${p}.block.0`, x, file(`${p}.block.0.weight`), file(`${p}.block.0.bias`), { kernelShape: [7, 7], pads: [3, 3, 3, 3], group: d });
      y = layerNormChannels(b, `${p}.block.2`, y, file(`${p}.block.2.weight`), file(`${p}.block.2.bias`), eps);
      y = b.conv(`${p}.block.3`, y, file(`${p}.block.3.weight`, [4 * d, d, 1, 1]), file(`${p}.block.3.bias`), { kernelShape: [1, 1] });
      y = gelu(b, `${p}.block.4`, y);
      const w2 = b.initializer(layerScaled(weights, `${p}.block.5.weight*layer_scale`, `${p}.block.5.weight`, `${p}.layer_scale`, [d, 4 * d, 1, 1]));
      const b2 = b.initializer(layerScaled(weights, `${p}.block.5.bias*layer_scale`, `${p}.block.5.bias`, `${p}.layer_scale`, [d]));
      y = b.conv(`${p}.block.5`, y, w2, b2, { kernelShape: [1, 1] });
      x = b.add(p, x, y);
    }
    if (s + 1 < layout.depths.length) {
      const p = `${f}.${downsampleIndex(s)}`;
      x = layerNormChannels(b, `${p}.0`, x, file(`${p}.0.weight`), file(`${p}.0.bias`), eps);
      x = b.conv(`${p}.1`, x, file(`${p}.1.weight`), file(`${p}.1.bias`), { kernelShape: [2, 2], strides: [2, 2] });
    }
  });
  const features = b.reduceMean('backbone.1', x, [2, 3], { keepdims: 0 });

  const head = (name: string, output?: string): string => {
    let h = features;
    HEAD_LINEARS.forEach((li, k) => {
      const bn = HEAD_NORMS[k];
      const scope = `${name}.${li}`;
      const last = bn === undefined;
      if (last) {
        h = b.gemm(scope, h, file(`${scope}.weight`), file(`${scope}.bias`), { transB: 1, ...(output ? { output } : {}) });
      } else {
        const folded = batchNormFolded(weights, scope, `${name}.${bn}`);
        h = b.gemm(scope, h, b.initializer(folded.weight), b.initializer(folded.bias), { transB: 1 });
        h = b.relu(`${name}.${bn + 1}`, h);
      }
    });
    return h;
  };
  const positions = head('position_head', OUTPUT_NAMES.positions);
  const logits = head('uncertainty_head');
  const umin = b.initializer(float32Tensor('uncertainty_min', [], [config.uncertaintyMin]));
  const umax = b.initializer(float32Tensor('uncertainty_max', [], [config.uncertaintyMax]));
  const uncertainties = b.clip('uncertainty_clamp', b.softplus('uncertainty_softplus', logits), umin, umax, { output: OUTPUT_NAMES.uncertainties });
  b.output(positions, 'float32', [BATCH_DIM, 2]);
  b.output(uncertainties, 'float32', [BATCH_DIM, 2]);

  const model = b.build({
    metadataProps: {
      architecture: config.architecture,
      backbone: config.backbone,
      checkpoint_sha256: bundle.weightsSha256,
      depths: JSON.stringify(layout.depths),
      dims: JSON.stringify(layout.dims),
      run_id: options.runId ?? config.runId ?? '',
    },
  });
  return { model, layout };
}

/** Stem (k4 s4) and each downsample (k2 s2) must leave at least one pixel. */
function checkSpatial(height: number, width: number, layout: ConvNextLayout, file: string, against: string): void {
  let h = Math.floor((height - 4) / 4) + 1;
  let w = Math.floor((width - 4) / 4) + 1;
  for (let s = 1; s < layout.depths.length; s++) {
    h = Math.floor((h - 2) / 2) + 1;
    w = Math.floor((w - 2) / 2) + 1;
  }
  if (!(h >= 1 && w >= 1)) {
    throw new ModelError({ file, against, detail: `input_shape [3, ${height}, ${width}] is too small for ${layout.depths.length} stages (last stage would be ${h}x${w})` });
  }
}
