/**
 * LocalizationNet (torchvision ConvNeXt features + avgpool, two MLP heads) as an ONNX IR graph, in
 * eval semantics: dropout and stochastic depth vanish, BatchNorm1d is folded into the preceding Linear
 * and layer_scale into the block's second pointwise layer.
 *
 * Graph shape, chosen by measuring onnxruntime (see the report of issue 3): activations stay NCHW; the
 * block's pointwise Linears are 1x1 Convs (their weights are the state_dict bytes as they are, so
 * emission streams them), and only LayerNorm goes through NHWC (Transpose, LayerNormalization,
 * Transpose). In the small-image stages the pointwise layers see the batch stacked into one image
 * (STACK_BATCH_MAX_PIXELS). avgpool+flatten is one ReduceMean. Weights that are not folded stay file ranges.
 *
 * It must not read tensor data (folds are lazy) nor write files (emit.ts does).
 */
import type { WeightsFile } from '../../checkpoint';
import { DEFAULT_OPSET } from '../../common/export-contract';
import type { ModelSignature } from '../../common/model-signature';
import { GraphBuilder } from '../../onnx/builder';
import { fileTensor, float32Tensor, type Model } from '../../onnx/ir';
import type { BuildOptions } from '../architecture';
import { batchNormFolded, layerScaled } from '../folding';
import { gelu, layerNormChannels, layerNormChannelsBatchStacked, unstackBatch } from '../graph-ops';
import { ModelError } from '../model-error';
import type { LocalizationNetConfig } from './config';
import {
  checkWeights,
  downsampleIndex,
  FEATURES,
  HEAD_LINEARS,
  HEAD_NORMS,
  resolveLayout,
  stageIndex,
  type ConvNextLayout,
} from './weights';

/** torchvision ConvNeXt's LayerNorm and LayerNorm2d epsilon (`partial(nn.LayerNorm, eps=1e-6)`). */
export const CONVNEXT_LAYER_NORM_EPSILON = 1e-6;
/** ONNX names Heimdall's inference service loads (shared/DESIGN.md, "Contracts"). */
export const INPUT_NAME = 'mel_spectrogram';
export const OUTPUT_NAMES = { positions: 'positions', uncertainties: 'uncertainties' } as const;
export const BATCH_DIM = 'batch_size';
/**
 * Blocks whose images have at most this many pixels run their pointwise layers on the batch stacked
 * into one image (graph-ops' layerNormChannelsBatchStacked): with a 4×1 or 8×2 image a per-image 1×1
 * Conv is a GEMM of 4 or 16 rows that re-reads weights of up to 1536×6144 for every image. Measured
 * on convnext_large against torch.onnx.export's graph (batch 1 / 32): no stacking 0.891 / 1.015,
 * every stage 0.943 / 0.868, ≤ 64 pixels 0.923 / 0.898, ≤ 16 pixels 0.901 / 0.841, ≤ 4 pixels
 * 0.899 / 0.856 (bench/MEASUREMENTS.md). At 128×32 input that is the last two stages.
 */
export const STACK_BATCH_MAX_PIXELS = 16;

export type { BuildOptions };

/** What the build reads: the config, the weights, and their sha256 (recorded in metadata). */
export interface LocalizationNetBundle {
  readonly config: LocalizationNetConfig;
  readonly weights: WeightsFile;
  readonly weightsSha256: string;
}

export interface BuiltModel {
  readonly model: Model;
  readonly layout: ConvNextLayout;
}

/** The layout the weights were checked against, and its name for messages. */
export interface CheckedLayout {
  readonly layout: ConvNextLayout;
  readonly against: string;
}

/** The weight check: the layout the config promises (or the weights' own), every tensor checked against it. */
export function checkLocalizationNetWeights(config: LocalizationNetConfig, weights: WeightsFile): CheckedLayout {
  const checked = resolveLayout(config, weights);
  checkWeights(weights, checked.layout, checked.against);
  return checked;
}

/** The graph's inputs and outputs: one spectrogram in, positions and uncertainties ([batch, 2]) out. */
export function localizationNetSignature(config: LocalizationNetConfig): ModelSignature {
  const input = [BATCH_DIM, ...config.inputShape];
  const output = [BATCH_DIM, 2];
  const spec = (name: string, dims: readonly (number | string)[]) => ({
    name,
    dtype: 'float32',
    shape: dims.map((d) => (typeof d === 'number' ? d : -1)),
  });
  return {
    inputs: [spec(INPUT_NAME, input)],
    outputs: [spec(OUTPUT_NAMES.positions, output), spec(OUTPUT_NAMES.uncertainties, output)],
    dims: { [INPUT_NAME]: input, [OUTPUT_NAMES.positions]: output, [OUTPUT_NAMES.uncertainties]: output },
  };
}

/** Checks the bundle's weights against its config and returns the graph (no tensor data is read). */
export function buildLocalizationNet(bundle: LocalizationNetBundle, options: BuildOptions = {}): BuiltModel {
  return buildChecked(bundle, checkLocalizationNetWeights(bundle.config, bundle.weights), options);
}

/** The graph of weights already checked against `checked`. */
export function buildChecked(
  bundle: LocalizationNetBundle,
  { layout, against }: CheckedLayout,
  options: BuildOptions = {},
): BuiltModel {
  const { config, weights } = bundle;
  const [, height, width] = config.inputShape;
  const sizes = stageSizes(height, width, layout, weights.path, against);

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
    const { height: h, width: w } = sizes[s] as StageSize;
    const stacked = h * w <= STACK_BATCH_MAX_PIXELS;
    for (let j = 0; j < depth; j++) {
      const p = `${f}.${stageIndex(s)}.${j}`;
      let y = b.conv(`${p}.block.0`, x, file(`${p}.block.0.weight`), file(`${p}.block.0.bias`), {
        kernelShape: [7, 7],
        pads: [3, 3, 3, 3],
        group: d,
      });
      const [lnScale, lnBias] = [file(`${p}.block.2.weight`), file(`${p}.block.2.bias`)];
      y = stacked
        ? layerNormChannelsBatchStacked(b, `${p}.block.2`, y, lnScale, lnBias, eps, d, w)
        : layerNormChannels(b, `${p}.block.2`, y, lnScale, lnBias, eps);
      y = b.conv(`${p}.block.3`, y, file(`${p}.block.3.weight`, [4 * d, d, 1, 1]), file(`${p}.block.3.bias`), {
        kernelShape: [1, 1],
      });
      y = gelu(b, `${p}.block.4`, y);
      const w2 = b.initializer(
        layerScaled(weights, `${p}.block.5.weight*layer_scale`, `${p}.block.5.weight`, `${p}.layer_scale`, [
          d,
          4 * d,
          1,
          1,
        ]),
      );
      const b2 = b.initializer(
        layerScaled(weights, `${p}.block.5.bias*layer_scale`, `${p}.block.5.bias`, `${p}.layer_scale`, [d]),
      );
      y = b.conv(`${p}.block.5`, y, w2, b2, { kernelShape: [1, 1] });
      if (stacked) y = unstackBatch(b, `${p}.block.5`, y, d, h, w);
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
        h = b.gemm(scope, h, file(`${scope}.weight`), file(`${scope}.bias`), {
          transB: 1,
          ...(output ? { output } : {}),
        });
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
  const uncertainties = b.clip('uncertainty_clamp', b.softplus('uncertainty_softplus', logits), umin, umax, {
    output: OUTPUT_NAMES.uncertainties,
  });
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

interface StageSize {
  readonly height: number;
  readonly width: number;
}

/** Spatial size of each stage's activations: the stem is k4 s4, each downsample k2 s2; each must leave a pixel. */
function stageSizes(height: number, width: number, layout: ConvNextLayout, file: string, against: string): StageSize[] {
  const sizes: StageSize[] = [{ height: Math.floor((height - 4) / 4) + 1, width: Math.floor((width - 4) / 4) + 1 }];
  for (let s = 1; s < layout.depths.length; s++) {
    const previous = sizes[s - 1] as StageSize;
    sizes.push({ height: Math.floor((previous.height - 2) / 2) + 1, width: Math.floor((previous.width - 2) / 2) + 1 });
  }
  const last = sizes[sizes.length - 1] as StageSize;
  if (!(last.height >= 1 && last.width >= 1)) {
    throw new ModelError({
      file,
      against,
      detail: `input_shape [3, ${height}, ${width}] is too small for ${layout.depths.length} stages (last stage would be ${last.height}x${last.width})`,
    });
  }
  return sizes;
}
