import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { sha256Bytes } from '../../hashing/file-sha256';
import { serializeModel } from '../../onnx/encode';
import type { Model } from '../../onnx/ir';
import { fileTensor, lazyTensor } from '../../onnx/ir';
import { OnnxInputError, OnnxIoError } from '../../onnx/onnx-error';
import { decodeWithOnnxProto, deserializeModel } from '../../onnx/serialize-read';
import { readTensorData } from '../../onnx/tensor-bytes';
import { encodeWithOnnxProto } from './onnx-reference-encoder';
import { assertClose, run, withInitializers } from './onnx-test-helpers';
import { pseudoRandom, singleConvModel, singleGemmModel, tinyModel, TINY } from './onnx-test-models';

describe('serializeModel', () => {
  it.each([14, 16, 17, 18, 20, 21])('opset %i: same graph twice gives the same bytes and sha256', async (opset) => {
    const a = await serializeModel(tinyModel(opset));
    const b = await serializeModel(tinyModel(opset));
    expect(sha256Bytes(a)).toBe(sha256Bytes(b));
  });

  it.each([14, 17, 20])('opset %i: streamed bytes equal onnx-proto encoding the whole message', async (opset) => {
    const model = tinyModel(opset);
    expect(Buffer.from(await serializeModel(model)).equals(Buffer.from(await encodeWithOnnxProto(model)))).toBe(true);
  });

  it('is independent of attribute and metadata insertion order', async () => {
    const model = tinyModel(17);
    const reordered: Model = {
      ...model,
      metadataProps: Object.fromEntries(Object.entries(model.metadataProps).reverse()),
      graph: {
        ...model.graph,
        nodes: model.graph.nodes.map((n) => ({
          ...n,
          attributes: Object.fromEntries(Object.entries(n.attributes).reverse()),
        })),
      },
    };
    expect(sha256Bytes(await serializeModel(reordered))).toBe(sha256Bytes(await serializeModel(model)));
  });

  it('round-trips through onnx-proto decode: names, types, shapes, attributes, metadata, data', async () => {
    const model = tinyModel(17);
    const decoded = decodeWithOnnxProto(await serializeModel(model)) as {
      irVersion: number;
      opsetImport: { domain?: string; version: number }[];
      metadataProps: { key: string; value: string }[];
      graph: {
        node: { name: string; opType: string; attribute?: { name: string }[] }[];
        initializer: { name: string; dims: number[]; dataType: number; rawData: number[] }[];
        input: {
          name: string;
          type: { tensorType: { elemType: number; shape: { dim: { dimValue?: number; dimParam?: string }[] } } };
        }[];
        output: { name: string }[];
      };
    };
    expect(decoded.irVersion).toBe(8);
    expect(decoded.opsetImport).toEqual([{ domain: '', version: 17 }]);
    expect(decoded.metadataProps.map((p) => p.key)).toEqual(['architecture', 'checkpoint_sha256']);
    expect(decoded.graph.node.map((n) => n.name)).toEqual(model.graph.nodes.map((n) => n.name));
    expect(decoded.graph.node[0]).toMatchObject({ name: 'backbone.0.0.0/Conv', opType: 'Conv' });
    expect(decoded.graph.node[0]!.attribute!.map((a) => a.name)).toEqual(['kernel_shape', 'strides']);
    expect(decoded.graph.input[0]!.type.tensorType.shape.dim).toEqual([
      { dimParam: 'batch_size' },
      { dimValue: 2 },
      { dimValue: 8 },
      { dimValue: 4 },
    ]);
    expect(decoded.graph.output.map((o) => o.name)).toEqual(['positions', 'uncertainties']);
    const first = decoded.graph.initializer[0]!;
    expect(first).toMatchObject({ name: 'backbone.0.0.0.weight', dims: [4, 2, 2, 2], dataType: 1 });
    const expected = await readTensorData(model.graph.initializers[0]!.data);
    expect(Buffer.from(first.rawData).equals(Buffer.from(expected))).toBe(true);
  });

  it('round-trips through our own reader to an equal IR', async () => {
    const model = tinyModel(20);
    const back = await deserializeModel(await serializeModel(model));
    // Float attributes are float32 in ONNX, so 1e-6 comes back as fround(1e-6).
    const f32 = (n: Model['graph']['nodes'][number]) => ({
      ...n,
      attributes: Object.fromEntries(
        Object.entries(n.attributes).map(([k, a]) => [
          k,
          a.type === 'float' ? { ...a, value: Math.fround(a.value) } : a,
        ]),
      ),
    });
    const strip = (m: Model): unknown => ({
      ...m,
      graph: {
        ...m.graph,
        nodes: m.graph.nodes.map(f32),
        initializers: m.graph.initializers.map((t) => ({ ...t, data: null })),
      },
    });
    expect(strip(back)).toEqual(strip(model));
    for (const [i, t] of back.graph.initializers.entries()) {
      const want = await readTensorData(model.graph.initializers[i]!.data);
      expect(Buffer.from(await readTensorData(t.data)).equals(Buffer.from(want)), t.name).toBe(true);
    }
  });

  it('refuses an initializer whose data does not match dims × dtype, naming it', async () => {
    const model = withInitializers(tinyModel(17), (t) =>
      t.name === 'position_head.0.weight' ? { ...t, dims: [2, 5] } : t,
    );
    await expect(serializeModel(model)).rejects.toThrow(
      "initializer 'position_head.0.weight': float32 [2, 5] needs 40 bytes, its data has 32",
    );
  });

  it('refuses a lazy tensor whose loader returns the wrong number of bytes', async () => {
    const model = withInitializers(tinyModel(17), (t) =>
      t.name === 'position_head.0.bias'
        ? lazyTensor(t.name, t.dtype, t.dims, () => Promise.resolve(new Uint8Array(4)))
        : t,
    );
    await expect(serializeModel(model)).rejects.toThrow('loader returned 4 bytes, declared 8');
  });
});

describe('serializeModel: what it throws (onnx/write-boundary.ts)', () => {
  it('tensor data that does not fit its dims and dtype is a final OnnxInputError about the data, both sides as fields', async () => {
    const model = withInitializers(tinyModel(17), (t) =>
      t.name === 'position_head.0.weight' ? { ...t, dims: [2, 5] } : t,
    );
    const err = await serializeModel(model).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxInputError);
    expect(err).toMatchObject({
      kind: 'data',
      retryable: false,
      context: { subject: "initializer 'position_head.0.weight'", expected: '40 bytes', actual: '32 bytes' },
    });
  });

  it("a lazy loader's own failure reaches the caller as it was thrown, not wrapped", async () => {
    class WeightsGone extends Error {}
    const thrown = new WeightsGone('checkpoint closed');
    const model = withInitializers(tinyModel(17), (t) =>
      t.name === 'position_head.0.bias' ? lazyTensor(t.name, t.dtype, t.dims, () => Promise.reject(thrown)) : t,
    );
    await expect(serializeModel(model)).rejects.toBe(thrown);
  });

  it('a tensor source file that is gone is a transient OnnxIoError naming that file and its code', async () => {
    const gone = join(tmpdir(), `onnx-encode-gone-${process.pid}.bin`);
    const model = withInitializers(tinyModel(17), (t) =>
      t.name === 'position_head.0.weight' ? fileTensor(t.name, t.dtype, t.dims, gone, 0, 32) : t,
    );
    const err = await serializeModel(model).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxIoError);
    expect(err).toMatchObject({ retryable: true, context: { file: gone, code: 'ENOENT' } });
    expect((err as OnnxIoError).message).toMatch(new RegExp(`^${gone}: ENOENT`));
    expect((err as OnnxIoError).cause).toMatchObject({ code: 'ENOENT' });
  });
});

describe('onnxruntime-node runs what we serialize', () => {
  it('Conv: matches a hand computation', async () => {
    // x = 1..9 as 3×3, w = [[1,2],[3,4]], bias 0.5: y[i][j] = Σ w·window + 0.5
    const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), [1, 1, 3, 3]);
    const { y } = await run(await serializeModel(singleConvModel()), { x });
    assertClose(
      y!,
      [1 + 4 + 12 + 20 + 0.5, 2 + 6 + 15 + 24 + 0.5, 4 + 10 + 21 + 32 + 0.5, 5 + 12 + 24 + 36 + 0.5],
      1e-6,
      0,
    );
  });

  it('Gemm (transB, alpha): matches a hand computation', async () => {
    // y = 2 · x Wᵀ + b with W = [[1,0,-1],[2,1,0]], b = [0.25, -1]
    const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3, -1, 0, 4]), [2, 3]);
    const { y } = await run(await serializeModel(singleGemmModel()), { x });
    assertClose(y!, [2 * (1 - 3) + 0.25, 2 * (2 + 2) - 1, 2 * (-1 - 4) + 0.25, 2 * -2 - 1], 1e-6, 0);
  });

  it('the miniature model gives the same outputs at every opset (fused vs decomposed LayerNorm and Gelu)', async () => {
    const batch = 3;
    const data = pseudoRandom(batch * TINY.inChannels * TINY.height * TINY.width, 99, 2);
    const feeds = () => ({
      mel_spectrogram: new ort.Tensor('float32', data, [batch, TINY.inChannels, TINY.height, TINY.width]),
    });
    const reference = await run(await serializeModel(tinyModel(14)), feeds());
    expect(reference.positions).toHaveLength(batch * 2);
    for (const u of reference.uncertainties!) expect(u >= 0.01 && u <= 1).toBe(true);
    for (const opset of [17, 18, 20, 21]) {
      const out = await run(await serializeModel(tinyModel(opset)), feeds());
      assertClose(out.positions!, reference.positions!, 1e-5, 1e-5);
      assertClose(out.uncertainties!, reference.uncertainties!, 1e-5, 1e-5);
    }
  });
});
