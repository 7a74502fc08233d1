import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildLocalizationNet, emitBundle } from '../../models';
import { STACK_BATCH_MAX_PIXELS } from '../../models/localizationnet';
import { readModel } from '../../onnx/serialize-read';
import { inferShapes } from '../../onnx/shape-inference';
import { runParity } from '../../parity';
import { tempDir } from './checkpoint-safetensors-writer';
import { loadLocalizationNetBundle, SMALL_BUNDLE } from './models-fixtures';

/** Parity target of issue 3 against PyTorch's own outputs (the committed reference). */
const PARITY_MAE = 1e-6;

const opTypes = (opset: number) =>
  loadLocalizationNetBundle(SMALL_BUNDLE).then((b) =>
    buildLocalizationNet(b, { opset }).model.graph.nodes.map((n) => n.opType),
  );

describe('LocalizationNet graph', () => {
  it('has the contract names, symbolic batch, metadata; unfolded weights are file ranges, folds are lazy', async () => {
    const bundle = await loadLocalizationNetBundle(SMALL_BUNDLE);
    const { model } = buildLocalizationNet(bundle, { runId: 'run-42' });
    expect(model.opset).toBe(17);
    expect(model.graph.inputs).toEqual([
      { name: 'mel_spectrogram', dtype: 'float32', shape: ['batch_size', 3, 128, 32] },
    ]);
    expect(model.graph.outputs).toEqual([
      { name: 'positions', dtype: 'float32', shape: ['batch_size', 2] },
      { name: 'uncertainties', dtype: 'float32', shape: ['batch_size', 2] },
    ]);
    expect(model.metadataProps).toMatchObject({
      architecture: 'LocalizationNet',
      checkpoint_sha256: bundle.weightsSha256,
      run_id: 'run-42',
      dims: '[8,16,24,32]',
    });
    const byName = new Map(model.graph.initializers.map((t) => [t.name, t]));
    expect(byName.get('backbone.0.1.0.block.3.weight')).toMatchObject({ dims: [32, 8, 1, 1], data: { kind: 'file' } });
    expect(byName.get('backbone.0.1.0.block.5.weight*layer_scale')?.data.kind).toBe('lazy');
    expect(byName.get('position_head.0.weight+position_head.1')?.data.kind).toBe('lazy');
    expect(byName.get('position_head.8.weight')?.data.kind).toBe('file');
    expect(model.graph.nodes.find((n) => n.name === 'backbone.0.1.0.block.0/Conv')?.attributes.group).toEqual({
      type: 'int',
      value: 8,
    });
  });

  it('opset 17 uses LayerNormalization and the erf GELU; 14 decomposes LayerNorm; 20 uses Gelu', async () => {
    const [o14, o17, o20] = await Promise.all([opTypes(14), opTypes(17), opTypes(20)]);
    expect(o14).not.toContain('LayerNormalization');
    expect(o14).toContain('Pow');
    expect(o17).toContain('LayerNormalization');
    expect(o17).toContain('Erf');
    expect(o17).not.toContain('Gelu');
    expect(o20).toContain('Gelu');
    expect(o20).not.toContain('Erf');
    expect(o20.length).toBeLessThan(o17.length);
    expect(o17.length).toBeLessThan(o14.length);
    for (const ops of [o14, o17, o20]) {
      expect(ops).not.toContain('Dropout');
      expect(ops).not.toContain('BatchNormalization');
      expect(ops).not.toContain('MatMul');
    }
  });

  it.each([14, 17, 20, 21])('opset %i: emitted model matches PyTorch (MAE <= 1e-6) and reads back', async (opset) => {
    const out = join(tempDir(), 'model.onnx');
    const result = await emitBundle(SMALL_BUNDLE, out, { opset });
    expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
    const report = await runParity(out, join(SMALL_BUNDLE, 'reference.safetensors'), { mae: PARITY_MAE, maxAbs: 1e-5 });
    expect(report.failures).toEqual([]);
    expect(report.outputs.positions!.mae).toBeLessThanOrEqual(PARITY_MAE);
    expect(report.outputs.uncertainties!.mae).toBeLessThanOrEqual(PARITY_MAE);
    const back = await readModel(out);
    expect(back.opset).toBe(opset);
    expect(back.graph.nodes.length).toBe(result.nodes);
  });

  it('small-image stages run their pointwise layers on the batch stacked into one image', async () => {
    // The small bundle's stages are 32×8, 16×4, 8×2 and 4×1 pixels: the last two are stacked.
    expect(STACK_BATCH_MAX_PIXELS).toBe(16);
    const { model } = buildLocalizationNet(await loadLocalizationNetBundle(SMALL_BUNDLE));
    const { types, problems } = inferShapes(model);
    expect(problems).toEqual([]);
    const convInput = (scope: string) =>
      types.get(model.graph.nodes.find((n) => n.name === `${scope}/Conv`)?.inputs[0] ?? '')?.shape;
    expect(convInput('backbone.0.3.0.block.3')).toEqual(['batch_size', 16, 16, 4]);
    expect(convInput('backbone.0.5.0.block.3')).toEqual([1, 24, 'batch_size*8', 2]);
    expect(convInput('backbone.0.5.0.block.5')).toEqual([1, 96, 'batch_size*8', 2]);
    expect(convInput('backbone.0.7.0.block.3')).toEqual([1, 32, 'batch_size*4', 1]);
    const residual = model.graph.nodes.find((n) => n.name === 'backbone.0.7.0/Add');
    expect(residual?.inputs.map((i) => types.get(i)?.shape)).toEqual([
      ['batch_size', 32, 4, 1],
      ['batch_size', 32, 4, 1],
    ]);
  });

  it.each([1, 3])('runs at batch %i as at batch 8: stacking never mixes samples (MAE <= 1e-6)', async (batchSize) => {
    const out = join(tempDir(), 'model.onnx');
    await emitBundle(SMALL_BUNDLE, out);
    const report = await runParity(out, join(SMALL_BUNDLE, 'reference.safetensors'), {
      mae: PARITY_MAE,
      maxAbs: 1e-5,
      batchSize,
    });
    expect(report.batchSize).toBe(batchSize);
    expect(report.failures).toEqual([]);
    expect(report.outputs.positions!.mae).toBeLessThanOrEqual(PARITY_MAE);
  });

  it('is deterministic: two emissions give the same bytes', async () => {
    const dir = tempDir();
    const a = await emitBundle(SMALL_BUNDLE, join(dir, 'a.onnx'));
    const b = await emitBundle(SMALL_BUNDLE, join(dir, 'b.onnx'));
    expect(a.sha256).toBe(b.sha256);
    expect(readFileSync(join(dir, 'a.onnx')).equals(readFileSync(join(dir, 'b.onnx')))).toBe(true);
  });

  it('external data: the sidecar holds the weights and onnxruntime loads it', async () => {
    const dir = tempDir();
    const r = await emitBundle(SMALL_BUNDLE, join(dir, 'model.onnx'), { externalData: true });
    expect(r.externalData?.bytes).toBeGreaterThan(200_000);
    expect(r.bytes).toBeLessThan(50_000);
    const session = await ort.InferenceSession.create(join(dir, 'model.onnx'));
    const out = await session.run({
      mel_spectrogram: new ort.Tensor('float32', new Float32Array(2 * 3 * 128 * 32), [2, 3, 128, 32]),
    });
    expect(out.positions?.dims).toEqual([2, 2]);
    await session.release();
  });
});
