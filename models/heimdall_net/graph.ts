/**
 * HeimdallNet (spec section 1) as an ONNX IR graph in eval semantics, and its signature. Dropout is
 * gone and every BatchNorm folded (iq-encoder.ts). The service's loop over receiver slots becomes one
 * pass over the B·N rows (row b·N + i), exact in eval (spec 1.5); rows go back to [B, N, ·] only where
 * receivers are pooled. The batch, the receiver count N and the IQ length L are symbolic: shapes are
 * read from the inputs at run time, and no receiver id, batch or count is a constant of the graph.
 *
 * Edge cases, as PyTorch: N = 1 runs like any N; with every receiver masked the outputs are finite
 * (every pool is 0, the softmax weights uniform). Measured against PyTorch eager on the fixtures'
 * edge cases (N = 1, all masked, both): within 3.6e-7 (test/integration/heimdall-net-parity.test.ts).
 * An id outside [0, R) fails in onnxruntime's Gather where PyTorch's embedding raises.
 *
 * Speed (2 threads, N = 7, L = 10000, R = 10, onnxruntime-node 1.30, on a shared 2-core VM at load
 * 4–5, bursts of each alternated): batch 1 2.4 ms against PyTorch 2.15 eager's 52 ms (the issue's
 * anchor on this machine: 24.7 ms), batch 32 64 ms against 605 ms (anchor 267 ms); ours ÷ eager
 * 0.04–0.10 at every batch from 1 to 64. Against torch.onnx.export's graph (atan2 repaired, R = N =
 * 7, interleaved pairs): 0.24 at batch 1, 0.33 at batch 32. Nearly all of it is the stem and block
 * 0 over the sequence (iq-encoder.ts); what follows runs on B·N rows of at most 672 numbers.
 *
 * int8 (docs/quantization.md): the graph names its two convs over the sequence (iq-encoder.ts) as
 * float scopes (INT8_FLOAT_SCOPES_KEY); every Linear is quantized. Quantized, those two convs made the
 * int8 graph 1.8× fp32's time at batch 1 and 2.2× at 32 (N 7, L 10000): QLinearConv runs NHWC between
 * Transposes, no faster than the fp32 NCHWc conv, and SiLU reads its output through a DequantizeLinear
 * and a bias Add over the whole [B·N, 32, 1, 5000] tensor, 45 of the int8 graph's 99 ms at batch 32.
 * It must not read tensor data (folds are lazy) nor write files (emit.ts does).
 */
import type { WeightsFile } from '../../checkpoint';
import { DEFAULT_OPSET, INT8_FLOAT_SCOPES_KEY } from '../../common/export-contract';
import type { ModelSignature } from '../../common/model-signature';
import { GraphBuilder } from '../../onnx/builder';
import { attr, type Model } from '../../onnx/ir';
import type { BuildOptions } from '../architecture';
import { calibrate, calibrationForm, type CalibrationForm } from './calibration';
import type { HeimdallNetConfig } from './config';
import { geometryEncoder } from './geometry';
import { iqEncoder, SEQUENCE_CONVS } from './iq-encoder';
import { concat, int64Constant, linear, linearNormGelu, op, stateTensor, unsqueeze, type Layers } from './layers';
import { setAggregator } from './set-aggregator';
import { EMBEDDINGS, ENCODER, FEATURES_PER_RECEIVER, POSITION_DIMS, type HeimdallNetLayout } from './weights';

export const BATCH_DIM = 'batch_size';
export const RECEIVERS_DIM = 'receivers';
export const SEQUENCE_DIM = 'seq_len';
/** The training service's input and output names (spec 1.1, 1.2), in forward's order. */
export const INPUTS = {
  iq: 'iq_data',
  features: 'features',
  positions: 'positions',
  ids: 'receiver_ids',
  mask: 'mask',
} as const;
export const OUTPUTS = { position: 'position', uncertainty: 'uncertainty' } as const;

type Dims = readonly (number | string)[];
const INPUT_SPECS: readonly { name: string; dtype: 'float32' | 'int64' | 'bool'; dims: Dims }[] = [
  { name: INPUTS.iq, dtype: 'float32', dims: [BATCH_DIM, RECEIVERS_DIM, 2, SEQUENCE_DIM] },
  { name: INPUTS.features, dtype: 'float32', dims: [BATCH_DIM, RECEIVERS_DIM, FEATURES_PER_RECEIVER] },
  { name: INPUTS.positions, dtype: 'float32', dims: [BATCH_DIM, RECEIVERS_DIM, POSITION_DIMS] },
  { name: INPUTS.ids, dtype: 'int64', dims: [BATCH_DIM, RECEIVERS_DIM] },
  { name: INPUTS.mask, dtype: 'bool', dims: [BATCH_DIM, RECEIVERS_DIM] },
];
const OUTPUT_DIMS: Dims = [BATCH_DIM, 2];

/** The graph's inputs and outputs (the same for every R and calibration setting). */
export function heimdallNetSignature(): ModelSignature {
  const spec = (name: string, dtype: string, dims: Dims) => ({
    name,
    dtype,
    shape: dims.map((d) => (typeof d === 'number' ? d : -1)),
  });
  const outputs = [OUTPUTS.position, OUTPUTS.uncertainty].map((n) => ({
    name: n,
    dtype: 'float32',
    dims: OUTPUT_DIMS,
  }));
  return {
    inputs: INPUT_SPECS.map((s) => spec(s.name, s.dtype, s.dims)),
    outputs: outputs.map((s) => spec(s.name, s.dtype, s.dims)),
    dims: Object.fromEntries([...INPUT_SPECS, ...outputs].map((s) => [s.name, [...s.dims]])),
  };
}

/** What the build reads: the config, the checked weights' layout, the weights and their sha256. */
export interface HeimdallNetBundle {
  readonly config: HeimdallNetConfig;
  readonly layout: HeimdallNetLayout;
  readonly weights: WeightsFile;
  readonly weightsSha256: string;
}

/** The graph of weights already checked against `bundle.layout`. */
export function buildHeimdallNet(
  bundle: HeimdallNetBundle,
  options: BuildOptions & { calibrationForm?: CalibrationForm } = {},
): Model {
  const { config, layout, weights } = bundle;
  const b = new GraphBuilder({ opset: options.opset ?? DEFAULT_OPSET, graphName: 'HeimdallNet' });
  const layers: Layers = { b, weights };
  for (const s of INPUT_SPECS) b.input(s.name, s.dtype, s.dims);

  // Rows b·N + i; [B, N] read from the ids at run time, to lay rows out as slots again.
  const slotShape = op(b, 'Shape', 'receivers', [INPUTS.ids]);
  const toSlots = (x: string, width: number) => {
    const shape = concat(b, 'receivers', [slotShape, int64Constant(b, 'shapes', [width])], 0);
    return op(b, 'Reshape', 'receivers', [x, shape]);
  };
  const iqRows = b.reshape(
    'receivers',
    op(b, 'Flatten', 'receivers', [INPUTS.iq], { axis: attr.int(2) }),
    [0, 2, 1, -1],
  );
  const ids = b.reshape('receivers', INPUTS.ids, [-1]);
  const mask = b.cast('receivers', INPUTS.mask, 'float32');

  // H2–H5: per-receiver encoding.
  const iq = iqEncoder(layers, iqRows);
  const featureRows = b.reshape('receivers', INPUTS.features, [-1, FEATURES_PER_RECEIVER]);
  const feat = linear(
    layers,
    `${ENCODER}.feature_encoder.3`,
    linearNormGelu(layers, `${ENCODER}.feature_encoder`, featureRows),
  );
  const embedding = op(b, 'Gather', `${ENCODER}.receiver_embeddings`, [stateTensor(layers, EMBEDDINGS), ids]);
  const fused = concat(b, ENCODER, [iq, feat, embedding], 1);
  let h = linear(layers, `${ENCODER}.adaptive_fusion.3`, linearNormGelu(layers, `${ENCODER}.adaptive_fusion`, fused));
  // H6.
  if (layout.useCalibration) {
    h = calibrate(layers, layout.maxReceivers, h, ids, options.calibrationForm ?? calibrationForm(layout.maxReceivers));
  }

  const agg = setAggregator(
    layers,
    h,
    {
      rows: b.reshape('receivers', mask, [-1, 1]),
      slots: unsqueeze(b, 'receivers', mask, [2]),
      active: unsqueeze(b, 'receivers', INPUTS.mask, [2]),
    },
    toSlots,
  );
  const geo = geometryEncoder(layers, INPUTS.positions, mask, slotShape);

  // F1–F3.
  const z = linearNormGelu(layers, 'global_fusion', concat(b, 'global_fusion', [agg, geo], 1));
  const position = linear(layers, 'position_head', z, OUTPUTS.position);
  const hidden = b.relu('uncertainty_head.1', linear(layers, 'uncertainty_head.0', z));
  const uncertainty = b.softplus('uncertainty_head.3', linear(layers, 'uncertainty_head.2', hidden), {
    output: OUTPUTS.uncertainty,
  });
  b.output(position, 'float32', OUTPUT_DIMS);
  b.output(uncertainty, 'float32', OUTPUT_DIMS);

  return b.build({
    metadataProps: {
      architecture: config.architecture,
      checkpoint_sha256: bundle.weightsSha256,
      max_receivers: String(layout.maxReceivers),
      use_calibration: String(layout.useCalibration),
      run_id: options.runId ?? config.runId ?? '',
      [INT8_FLOAT_SCOPES_KEY]: Object.values(SEQUENCE_CONVS).join(','),
    },
  });
}
