/**
 * TriangulationModel (shared/heimdall-models.md section 2) as an ONNX IR graph in eval semantics:
 * six features per receiver → encoder MLP → self-attention across receivers (models/attention.ts)
 * → LayerNorm(o + e) → pooled over receivers (mean, max, the heads' mean attention map's std, the
 * active count / 7) → head MLP → `position` [B, 2] and `log_variance` [B, 1]. The batch B and the
 * receiver count N are symbolic; `signal_mask` keeps its polarity (True = masked).
 *
 * Edge cases are PyTorch's (spec 2.3), by the same arithmetic rather than by special cases: with
 * N = 1 the unbiased std divides 0 by 0, so both outputs are NaN; with every receiver masked the
 * attention rows are NaN but the masked fills (Where, like masked_fill) replace them, so agg is
 * [0, −1e9, 0, 1/7] and the outputs are finite and huge.
 *
 * Graph shape: rows are slot-major [N·B, C] (receiver-set.ts: the input is transposed once, 6 values
 * a receiver) through the encoder, the attention's Gemms and the LayerNorm, and become [N, B, C] once,
 * for the pooling; T7's repeated blocks are folded into the head's first weight (pooledHeadWeight), and
 * the head's last Gemm is split into the two outputs by one Split. Every weight is the file's bytes by
 * range except the attention's in_proj (1/√d in its Q rows) and the head's first weight. Measured
 * (`onnx-export bench --baseline`, N = 7, quiet machine): 0.745 and 0.872 of torch's own export's time
 * at batch 1 and 32; tried and dropped: LayerNorm on [N, B, C] so that onnxruntime fuses the residual
 * Add into SkipLayerNormalization (1.2× slower at batch 32), and the encoder's last Linear merged into
 * in_proj as one Gemm and a Split (1.2× slower at batch 32).
 * It must not read tensor data nor write files.
 */
import type { WeightsFile } from '../../checkpoint';
import { DEFAULT_OPSET } from '../../common/export-contract';
import type { ModelSignature } from '../../common/model-signature';
import { GraphBuilder } from '../../onnx/builder';
import { attr, lazyTensor, type Model, type Tensor } from '../../onnx/ir';
import type { BuildInput, BuildOptions } from '../architecture';
import { selfAttention } from '../attention';
import { bytesOf } from '../folding';
import { int64s, layerNormLastAxis, op, reduce, scalar } from '../graph-ops';
import {
  activeCount,
  maskedFill,
  maskedMax,
  maskedRows,
  maskView,
  receiverSet,
  toSlots,
  unbiasedStd,
} from '../receiver-set';
import {
  declaredSignature,
  declareInputs,
  declareOutputs,
  fileInitializers,
  graphMetadata,
  linearStack,
  type TensorDeclaration,
} from '../state-dict-layers';
import type { TriangulationModelConfig } from './config';
import {
  ATTENTION,
  ATTENTION_PREFIX,
  ENCODER,
  ENCODER_LINEARS,
  HEAD,
  HEAD_LINEARS,
  LAYER_NORM,
  RECEIVER_FEATURES,
} from './weights';

export const BATCH_DIM = 'batch_size';
export const RECEIVERS_DIM = 'receivers';
/** nn.LayerNorm's default epsilon (the state_dict does not store it). */
export const LAYER_NORM_EPSILON = 1e-5;
/**
 * The module constant T7 divides the active count by, whatever N is (spec 2: `max_receivers` is
 * not a constructor argument, so a checkpoint cannot change it).
 */
export const COUNT_NORMALISER = 7;

/** The service's names (spec 2.1). */
export const INPUTS: readonly TensorDeclaration[] = [
  { name: 'receiver_features', dtype: 'float32', dims: [BATCH_DIM, RECEIVERS_DIM, RECEIVER_FEATURES] },
  { name: 'signal_mask', dtype: 'bool', dims: [BATCH_DIM, RECEIVERS_DIM] },
];
export const OUTPUTS: readonly TensorDeclaration[] = [
  { name: 'position', dtype: 'float32', dims: [BATCH_DIM, 2] },
  { name: 'log_variance', dtype: 'float32', dims: [BATCH_DIM, 1] },
];

export function triangulationModelSignature(): ModelSignature {
  return declaredSignature(INPUTS, OUTPUTS);
}

/**
 * The head's first Linear for agg = [mean (C), max (C), std, count] instead of T7's [mean, max, std
 * repeated C times, count/7 repeated C times]: the weight's columns of each repeated block summed into
 * one (and the count's divided by 7), [out, 2C + 2]. Algebraically T7 then T8's first layer; it spares
 * the graph two Expands and a Div on every run. Read lazily, at serialization.
 */
function pooledHeadWeight(weights: WeightsFile, linear: string, width: number): Tensor {
  const key = `${linear}.weight`;
  const [rows, columns] = weights.require(key).shape as [number, number];
  return lazyTensor(`${key}+pooled_columns`, 'float32', [rows, 2 * width + 2], async () => {
    const w = await weights.readFloat32(key);
    const out = new Float32Array(rows * (2 * width + 2));
    for (let r = 0; r < rows; r++) {
      const row = w.subarray(r * columns, (r + 1) * columns);
      const folded = out.subarray(r * (2 * width + 2), (r + 1) * (2 * width + 2));
      folded.set(row.subarray(0, 2 * width));
      let std = 0;
      let count = 0;
      for (let j = 0; j < width; j++) {
        std += row[2 * width + j] as number;
        count += row[3 * width + j] as number;
      }
      folded[2 * width] = std;
      folded[2 * width + 1] = count / COUNT_NORMALISER;
    }
    return bytesOf(out);
  });
}

/** The graph of weights already checked against the state_dict table (weights.ts). */
export function buildTriangulationModel(
  { config, weights, weightsSha256 }: BuildInput<TriangulationModelConfig, unknown>,
  options: BuildOptions = {},
): Model {
  const b = new GraphBuilder({ opset: options.opset ?? DEFAULT_OPSET, graphName: 'TriangulationModel' });
  const file = fileInitializers(b, weights);
  const [features, mask] = declareInputs(b, INPUTS) as [string, string];
  const set = receiverSet(b, mask);
  const width = ATTENTION.embedDim;

  // T1: the encoder on every receiver's row, rows slot-major (receiver-set.ts).
  const rows = b.reshape(ENCODER, b.transpose(ENCODER, features, [1, 0, 2]), [-1, RECEIVER_FEATURES]);
  const e = linearStack(b, file, ENCODER, ENCODER_LINEARS, rows);
  // T2, T3.
  const attention = selfAttention(b, weights, ATTENTION_PREFIX, e, set, ATTENTION, { averageWeights: true });
  const normed = layerNormLastAxis(
    b,
    LAYER_NORM,
    b.add('aggregator', attention.output, e),
    file(`${LAYER_NORM}.weight`),
    file(`${LAYER_NORM}.bias`),
    LAYER_NORM_EPSILON,
  );
  const a = toSlots(b, 'aggregator', normed, set, [width]);

  // T4: mean over the active receivers, the count clamped to at least 1.
  const count = b.max('pool/count', [activeCount(b, set), scalar(b, 'one', 1)]);
  const sum = reduce(b, 'ReduceSum', 'pool/mean', maskedRows(b, 'pool/mean', a, set, 0), [0], 0);
  const mean = b.div('pool/mean', sum, count);
  // T5.
  const max = maskedMax(b, 'pool/max', a, set);
  // T6: masked key columns count as zeros; the std over keys, averaged over every query row.
  const keysZeroed = maskedFill(b, 'pool/std', attention.weights as string, maskView(b, set.mask, [1]), 0);
  const std = reduce(b, 'ReduceMean', 'pool/std', unbiasedStd(b, 'pool/std', keysZeroed, 2, set), [1], 1);
  // T7, T8: agg's two repeated blocks enter the head as one column each (pooledHeadWeight).
  const agg = op(b, 'Concat', 'pool', [mean, max, std, count], { axis: attr.int(1) });
  const first = `${HEAD}.${HEAD_LINEARS[0]}`;
  const hidden = b.relu(
    `${HEAD}.${HEAD_LINEARS[0] + 1}`,
    b.gemm(first, agg, b.initializer(pooledHeadWeight(weights, first, width)), file(`${first}.bias`), { transB: 1 }),
  );
  const out = linearStack(b, file, HEAD, HEAD_LINEARS.slice(1), hidden);
  b.node(
    'Split',
    [out, int64s(b, [2, 1])],
    { axis: attr.int(1) },
    {
      name: `${HEAD}/Split`,
      outputs: OUTPUTS.map((t) => t.name),
    },
  );
  declareOutputs(b, OUTPUTS);

  return b.build({ metadataProps: graphMetadata(config, weightsSha256, options) });
}
