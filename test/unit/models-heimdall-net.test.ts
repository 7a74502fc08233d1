/**
 * The heimdall_net plug-in (models/heimdall_net/) on weights made in TypeScript
 * (heimdall-net-fixtures.ts): its config fields, its weight table against the spec's counts, the
 * weight check's refusals (every problem at once, config values that disagree named by field), its
 * signature and graph (checker-clean at opsets 14, 17 and 20), and, in onnxruntime, what holds for
 * HeimdallNet whatever its weights: batch rows are independent, padded slots and slot order do not
 * matter, N = 1 and an all-masked batch give finite outputs, coincident receivers are no NaN, and
 * receiver ids are read at run time. Parity against PyTorch is the integration test's
 * (heimdall-net-parity.test.ts). Servers: none.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, SafetensorsFile } from '../../checkpoint';
import { configureArchitecture, emitBundle, ModelError } from '../../models';
import {
  buildHeimdallNet,
  checkHeimdallNetWeights,
  expectedShapes,
  heimdallNetSignature,
  type HeimdallNetConfig,
} from '../../models/heimdall_net';
import { ALL_LAYERS_MAX_RECEIVERS, calibrationForm } from '../../models/heimdall_net/calibration';
import { checkModel } from '../../onnx/checker';
import { graphSignature } from '../../onnx/graph-signature';
import { writeModel } from '../../onnx/write-model';
import { tempDir } from './checkpoint-safetensors-writer';
import {
  heimdallInputs,
  heimdallNetBundle,
  heimdallNetEntries,
  maxAbsDiff,
  runHeimdall,
  sliceBatch,
  type HeimdallInputs,
} from './heimdall-net-fixtures';
import type { Entry } from './models-fixtures';

const CONFIG: HeimdallNetConfig = { architecture: 'heimdall_net' };
const R = 10;
/** Float32 rounding through ~60 layers: what "the same" allows where the order of a sum may differ. */
const SAME = 1e-5;

async function weightsOf(entries: ReadonlyMap<string, Entry>, config?: Record<string, unknown>) {
  const dir = heimdallNetBundle(entries, config);
  return SafetensorsFile.open(join(dir, 'model.safetensors'));
}

async function refusal(entries: ReadonlyMap<string, Entry>, config: HeimdallNetConfig = CONFIG): Promise<ModelError> {
  const weights = await weightsOf(entries);
  try {
    checkHeimdallNetWeights(config, weights);
  } catch (err) {
    expect(err).toBeInstanceOf(ModelError);
    return err as ModelError;
  }
  throw new Error('the weights were accepted');
}

describe('heimdall_net config', () => {
  it('reads no required field; max_receivers, use_calibration and run_id when given', () => {
    expect(configureArchitecture({ architecture: 'heimdall_net' }, 'c.json').config).toEqual(CONFIG);
    const given = { architecture: 'heimdall_net', max_receivers: 7, use_calibration: false, run_id: 'r1' };
    expect(configureArchitecture(given, 'c.json').config).toEqual({
      architecture: 'heimdall_net',
      maxReceivers: 7,
      useCalibration: false,
      runId: 'r1',
    });
  });

  it.each([
    ['max_receivers', 0],
    ['max_receivers', 2.5],
    ['max_receivers', '10'],
    ['use_calibration', 'yes'],
    ['use_calibration', 1],
  ])('refuses %s = %j naming the field and config.json', (field, value) => {
    let err: unknown;
    try {
      configureArchitecture({ architecture: 'heimdall_net', [field]: value }, 'bundle/config.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).subject).toBe(field);
    expect((err as Error).message).toMatch(new RegExp(`^bundle/config.json: ${field}: expected `));
  });
});

describe('heimdall_net weight table (spec 1.3, 1.4 and 6)', () => {
  const counts = (maxReceivers: number, useCalibration: boolean) => {
    let parameters = 0;
    let buffers = 0;
    let batchNorms = 0;
    for (const [name, shape] of expectedShapes({ maxReceivers, useCalibration })) {
      const n = shape.reduce((a, d) => a * d, 1);
      if (name.endsWith('running_mean') || name.endsWith('running_var')) buffers += n;
      else parameters += n;
      if (name.endsWith('running_var')) batchNorms++;
    }
    return { parameters, buffers, batchNorms, keys: expectedShapes({ maxReceivers, useCalibration }).size };
  };

  it('has the spec’s parameter, buffer and key counts', () => {
    // 319 state_dict keys for R = 10 with calibration, 31 of them num_batches_tracked.
    expect(counts(10, true)).toEqual({ parameters: 2_001_417, buffers: 13_632, batchNorms: 31, keys: 319 - 31 });
    expect(counts(7, true).parameters).toBe(1_802_313);
    expect(counts(10, false).parameters).toBe(1_338_377);
    expect(counts(3, false).parameters).toBe(1_337_737 + 64 * 3);
  });
});

describe('heimdall_net weight check', () => {
  it('reads R and calibration from the weights, with or without num_batches_tracked', async () => {
    const withCounters = await weightsOf(heimdallNetEntries({ maxReceivers: 10, useCalibration: true }));
    expect(withCounters.tensors).toHaveLength(319);
    expect(checkHeimdallNetWeights(CONFIG, withCounters)).toEqual({ maxReceivers: 10, useCalibration: true });
    const bare = new Map(
      [...heimdallNetEntries({ maxReceivers: 4, useCalibration: false })].filter(
        ([k]) => !k.endsWith('num_batches_tracked'),
      ),
    );
    const config = { ...CONFIG, maxReceivers: 4, useCalibration: false };
    expect(checkHeimdallNetWeights(config, await weightsOf(bare))).toEqual({ maxReceivers: 4, useCalibration: false });
  });

  it('refuses every missing, unexpected and mismatched tensor at once', async () => {
    const entries = heimdallNetEntries({ maxReceivers: R, useCalibration: true });
    entries.delete('set_aggregator.quality_net.2.bias');
    entries.delete(`receiver_encoder.calibration_layers.9.1.weight`);
    entries.set('global_fusion.0.weight', { dtype: 'F32', shape: [256, 500] });
    entries.set('position_head.bias', { dtype: 'F16', shape: [2] });
    entries.set('geometry_encoder.extra.weight', { dtype: 'F32', shape: [3] });
    // A step counter is accepted beside a BatchNorm only.
    entries.set('global_fusion.1.num_batches_tracked', { dtype: 'I64', shape: [] });
    const err = await refusal(entries);
    expect(err.against).toBe('heimdall_net R=10 with calibration');
    expect(err.missing).toEqual([
      'receiver_encoder.calibration_layers.9.1.weight',
      'set_aggregator.quality_net.2.bias',
    ]);
    expect(err.unexpected).toEqual(['geometry_encoder.extra.weight', 'global_fusion.1.num_batches_tracked']);
    expect(err.mismatches).toEqual([
      { tensor: 'global_fusion.0.weight', expected: '[256, 512]', actual: '[256, 500]' },
      { tensor: 'position_head.bias', expected: 'F32 [2]', actual: 'F16 [2]' },
    ]);
    expect(err.message).toContain('global_fusion.0.weight: expected [256, 512], got [256, 500]');
  });

  it('refuses a config max_receivers or use_calibration that disagrees with the weights, naming the field', async () => {
    const entries = heimdallNetEntries({ maxReceivers: R, useCalibration: true });
    const r = await refusal(entries, { ...CONFIG, maxReceivers: 7 });
    expect(r.message).toContain(
      'max_receivers: the config says 7, the weights have R = 10 (receiver_encoder.receiver_embeddings.weight [10, 64])',
    );
    const c = await refusal(entries, { ...CONFIG, useCalibration: false });
    expect(c.message).toContain(
      'use_calibration: the config says false, the weights have receiver_encoder.calibration_layers.* tensors',
    );
    const both = await refusal(heimdallNetEntries({ maxReceivers: 5, useCalibration: false }), {
      ...CONFIG,
      maxReceivers: 6,
      useCalibration: true,
    });
    expect(both.message).toMatch(/max_receivers: .*; use_calibration: the config says true, the weights have no /);
  });

  it('refuses calibration layers for fewer receivers than the embedding table has', async () => {
    const entries = heimdallNetEntries({ maxReceivers: R, useCalibration: true });
    for (const key of [...entries.keys()])
      if (key.startsWith('receiver_encoder.calibration_layers.7.')) entries.delete(key);
    const err = await refusal(entries);
    expect(err.missing).toEqual([
      'receiver_encoder.calibration_layers.7.0.weight',
      'receiver_encoder.calibration_layers.7.0.bias',
      'receiver_encoder.calibration_layers.7.1.weight',
      'receiver_encoder.calibration_layers.7.1.bias',
    ]);
  });

  it('says where R comes from when the embedding table is missing or not [R, 64]', async () => {
    const entries = heimdallNetEntries({ maxReceivers: R, useCalibration: false });
    entries.delete('receiver_encoder.receiver_embeddings.weight');
    const missing = await refusal(entries);
    expect(missing.missing).toEqual(['receiver_encoder.receiver_embeddings.weight']);
    expect(missing.message).toContain('R (max_receivers) is read from receiver_encoder.receiver_embeddings.weight');
    // With the config's R, the check goes on and names the tensor among the others.
    expect((await refusal(entries, { ...CONFIG, maxReceivers: R })).missing).toEqual([
      'receiver_encoder.receiver_embeddings.weight',
    ]);
    entries.set('receiver_encoder.receiver_embeddings.weight', { dtype: 'F32', shape: [640] });
    expect((await refusal(entries)).message).toContain('which must be [R, 64], got [640]');
  });
});

describe('heimdall_net signature and graph', () => {
  it('declares the service’s names, dtypes and symbolic dims', () => {
    const s = heimdallNetSignature();
    expect(s.inputs.map((t) => `${t.name} ${t.dtype}`)).toEqual([
      'iq_data float32',
      'features float32',
      'positions float32',
      'receiver_ids int64',
      'mask bool',
    ]);
    expect(s.dims).toEqual({
      iq_data: ['batch_size', 'receivers', 2, 'seq_len'],
      features: ['batch_size', 'receivers', 6],
      positions: ['batch_size', 'receivers', 3],
      receiver_ids: ['batch_size', 'receivers'],
      mask: ['batch_size', 'receivers'],
      position: ['batch_size', 2],
      uncertainty: ['batch_size', 2],
    });
    const cases = configureArchitecture({ architecture: 'heimdall_net' }, 'c.json').referenceCases();
    expect(cases).toMatchObject({ batchDim: 'batch_size', caseDims: ['receivers', 'seq_len'] });
  });

  it.each([14, 17, 20])(
    'opset %i: checker-clean, with the signature it declares and no baked ids or sizes',
    async (opset) => {
      const weights = await weightsOf(heimdallNetEntries({ maxReceivers: R, useCalibration: true }));
      const layout = checkHeimdallNetWeights(CONFIG, weights);
      const model = buildHeimdallNet({ config: CONFIG, layout, weights, weightsSha256: 'ab' }, { opset, runId: 'r' });
      const report = checkModel(model);
      expect(report.problems).toEqual([]);
      expect(graphSignature(model)).toEqual(heimdallNetSignature());
      expect(model.metadataProps).toEqual({
        architecture: 'heimdall_net',
        checkpoint_sha256: 'ab',
        max_receivers: '10',
        use_calibration: 'true',
        run_id: 'r',
        // The int8 variant leaves the two convs over the sequence float (docs/quantization.md).
        int8_float_scopes: 'receiver_encoder.iq_encoder.stem.0,receiver_encoder.iq_encoder.blocks.0.conv_block.0',
      });
      // Only shapes and axes are int64 constants: no receiver id, batch or receiver count is baked in.
      const int64 = model.graph.initializers.filter((t) => t.dtype === 'int64');
      expect(int64.every((t) => t.name.startsWith('/') && t.dims.length === 1 && (t.dims[0] ?? 0) <= 4)).toBe(true);
    },
  );

  it('uses one Gemm against all layers up to R = 24, gathers each row’s layer above', () => {
    expect(calibrationForm(R)).toBe('all-layers');
    expect(calibrationForm(ALL_LAYERS_MAX_RECEIVERS + 1)).toBe('gather-weights');
  });
});

describe('heimdall_net in onnxruntime (TS-made weights, R = 10, calibration on)', () => {
  let session: ort.InferenceSession;
  let gatherSession: ort.InferenceSession;
  let dir: string;

  beforeAll(async () => {
    dir = heimdallNetBundle(heimdallNetEntries({ maxReceivers: R, useCalibration: true }, 3));
    const out = join(dir, 'model.onnx');
    const emitted = await emitBundle(dir, out);
    expect(emitted.settings).toEqual({ max_receivers: '10', use_calibration: 'true' });
    session = await ort.InferenceSession.create(out);
    // The other calibration form on the same weights.
    const weights = await SafetensorsFile.open(join(dir, 'model.safetensors'));
    const layout = checkHeimdallNetWeights(CONFIG, weights);
    const gathered = buildHeimdallNet(
      { config: CONFIG, layout, weights, weightsSha256: '' },
      { calibrationForm: 'gather-weights' },
    );
    const gatherPath = join(tempDir(), 'gather.onnx');
    await writeModel(gathered, gatherPath);
    gatherSession = await ort.InferenceSession.create(gatherPath);
  });
  afterAll(async () => {
    await session?.release();
    await gatherSession?.release();
  });

  const partial: readonly (readonly boolean[])[] = [
    [true, true, true, true, true, true, true],
    [true, false, true, true, false, true, false],
    [false, false, false, false, false, true, true],
  ];
  const inputs = () =>
    heimdallInputs({
      batch: 3,
      receivers: 7,
      length: 300,
      ids: [
        [0, 1, 2, 3, 4, 5, 6],
        [9, 3, 7, 1, 0, 2, 8],
        [4, 4, 2, 9, 4, 1, 1],
      ],
      mask: partial,
    });

  it('gives each sample of a batch what it gives that sample alone', async () => {
    const x = inputs();
    const whole = await runHeimdall(session, x);
    for (let i = 0; i < 3; i++) {
      const alone = await runHeimdall(session, sliceBatch(x, i, i + 1));
      expect(maxAbsDiff(alone.position, whole.position.slice(2 * i, 2 * i + 2))).toBeLessThanOrEqual(SAME);
      expect(maxAbsDiff(alone.uncertainty, whole.uncertainty.slice(2 * i, 2 * i + 2))).toBeLessThanOrEqual(SAME);
    }
  });

  it('ignores everything about a padded slot, ids and positions included', async () => {
    const x = inputs();
    const y = inputs();
    const other = heimdallInputs({ batch: 3, receivers: 7, length: 300, seed: 99 });
    const padded = partial.flat().map((active) => !active);
    const replace = (t: ort.Tensor, by: ort.Tensor) => {
      const per = t.dims.slice(2).reduce((a, d) => a * d, 1);
      const data = t.data as Float32Array;
      padded.forEach((p, slot) => {
        if (p) data.set((by.data as Float32Array).subarray(slot * per, (slot + 1) * per), slot * per);
      });
    };
    replace(y.iq_data, other.iq_data);
    replace(y.features, other.features);
    replace(y.positions, other.positions);
    replace(y.receiver_ids, other.receiver_ids);
    const a = await runHeimdall(session, x);
    const b = await runHeimdall(session, y);
    expect(maxAbsDiff(a.position, b.position)).toBe(0);
    expect(maxAbsDiff(a.uncertainty, b.uncertainty)).toBe(0);
  });

  it('does not depend on the order of the slots', async () => {
    const x = inputs();
    const order = [4, 0, 6, 2, 1, 5, 3];
    const permute = (t: ort.Tensor): ort.Tensor => {
      const per = t.dims.slice(2).reduce((a, d) => a * d, 1);
      const src = t.data as Float32Array;
      const dst = src.slice();
      for (let b = 0; b < 3; b++) {
        order.forEach((from, to) =>
          dst.set(src.subarray((b * 7 + from) * per, (b * 7 + from + 1) * per), (b * 7 + to) * per),
        );
      }
      return new ort.Tensor(t.type as 'float32', dst, t.dims);
    };
    const y: HeimdallInputs = {
      iq_data: permute(x.iq_data),
      features: permute(x.features),
      positions: permute(x.positions),
      receiver_ids: permute(x.receiver_ids),
      mask: permute(x.mask),
    };
    const a = await runHeimdall(session, x);
    const b = await runHeimdall(session, y);
    expect(maxAbsDiff(a.position, b.position)).toBeLessThanOrEqual(SAME);
    expect(maxAbsDiff(a.uncertainty, b.uncertainty)).toBeLessThanOrEqual(SAME);
  });

  it('runs any receiver count and IQ length: N = 1, N > R (repeated ids), L = 1', async () => {
    for (const [receivers, length] of [
      [1, 64],
      [12, 50],
      [4, 1],
    ] as const) {
      const out = await runHeimdall(session, heimdallInputs({ batch: 2, receivers, length }));
      expect(out.position).toHaveLength(4);
      expect([...out.position, ...out.uncertainty].every(Number.isFinite)).toBe(true);
      expect([...out.uncertainty].every((u) => u > 0)).toBe(true);
    }
  });

  it('with every receiver masked: finite, and the same whatever the slots hold (every pool is 0)', async () => {
    const none = [Array<boolean>(5).fill(false), Array<boolean>(5).fill(false)];
    const a = await runHeimdall(session, heimdallInputs({ batch: 2, receivers: 5, length: 40, mask: none }));
    const b = await runHeimdall(session, heimdallInputs({ batch: 2, receivers: 5, length: 40, mask: none, seed: 5 }));
    expect([...a.position, ...a.uncertainty].every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(a.position, b.position)).toBe(0);
    // Both samples are the same function of nothing.
    expect(maxAbsDiff(a.position.slice(0, 2), a.position.slice(2, 4))).toBe(0);
  });

  it('gives coincident receivers (atan2(0, 0) off the diagonal) a finite answer', async () => {
    const x = heimdallInputs({ batch: 1, receivers: 4, length: 40 });
    const p = x.positions.data as Float32Array;
    p.set(p.subarray(0, 3), 3);
    const out = await runHeimdall(session, x);
    expect([...out.position, ...out.uncertainty].every(Number.isFinite)).toBe(true);
  });

  it('reads receiver ids at run time: other ids, other outputs; an id ≥ R is an error, not an answer', async () => {
    const x = heimdallInputs({ batch: 1, receivers: 3, length: 40, ids: [[0, 1, 2]] });
    const y = heimdallInputs({ batch: 1, receivers: 3, length: 40, ids: [[7, 8, 9]] });
    const a = await runHeimdall(session, x);
    const b = await runHeimdall(session, y);
    expect(maxAbsDiff(a.position, b.position)).toBeGreaterThan(1e-3);
    const bad = heimdallInputs({ batch: 1, receivers: 3, length: 40, ids: [[0, 1, R]] });
    await expect(runHeimdall(session, bad)).rejects.toThrow(/out of|bounds|range/i);
  });

  it('gives the same outputs with either calibration form', async () => {
    const x = inputs();
    const a = await runHeimdall(session, x);
    const b = await runHeimdall(gatherSession, x);
    expect(maxAbsDiff(a.position, b.position)).toBeLessThanOrEqual(SAME);
    expect(maxAbsDiff(a.uncertainty, b.uncertainty)).toBeLessThanOrEqual(SAME);
  });
});
