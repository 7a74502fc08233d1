import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { Model, Tensor } from '../../onnx/ir';
import { fileTensor, lazyTensor } from '../../onnx/ir';
import {
  decodeWithOnnxProto,
  deserializeModel,
  encodeWithOnnxProto,
  readModel,
  readTensorData,
  serializeModel,
  sha256Bytes,
  sha256File,
  writeModel,
} from '../../onnx/serialize';
import { FileTailHasher, TAIL_HASH_MIN_BYTES } from '../../onnx/file-tail-hasher';
import { pseudoRandom, singleConvModel, singleGemmModel, tinyModel, TINY } from './onnx-test-models';

const dir = mkdtempSync(join(tmpdir(), 'onnx-serialize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** |a - b| ≤ atol + rtol·|b| elementwise, with a message that shows the first offending index. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`element ${i}: expected ${e}, got ${a} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** Replaces the graph's initializers, keeping everything else. */
function withInitializers(model: Model, f: (t: Tensor, i: number) => Tensor): Model {
  return { ...model, graph: { ...model.graph, initializers: model.graph.initializers.map(f) } };
}

/** Moves every initializer's bytes into one file and points the tensors at their ranges there. */
async function fileBacked(model: Model, path: string): Promise<Model> {
  const parts: Uint8Array[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const t of model.graph.initializers) {
    const bytes = await readTensorData(t.data);
    offsets.push(at);
    parts.push(bytes);
    at += bytes.byteLength;
  }
  writeFileSync(path, Buffer.concat(parts));
  return withInitializers(model, (t, i) => fileTensor(t.name, t.dtype, t.dims, path, offsets[i] as number, parts[i]!.byteLength));
}

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
        nodes: model.graph.nodes.map((n) => ({ ...n, attributes: Object.fromEntries(Object.entries(n.attributes).reverse()) })),
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
        input: { name: string; type: { tensorType: { elemType: number; shape: { dim: { dimValue?: number; dimParam?: string }[] } } } }[];
        output: { name: string }[];
      };
    };
    expect(decoded.irVersion).toBe(8);
    expect(decoded.opsetImport).toEqual([{ domain: '', version: 17 }]);
    expect(decoded.metadataProps.map((p) => p.key)).toEqual(['architecture', 'checkpoint_sha256']);
    expect(decoded.graph.node.map((n) => n.name)).toEqual(model.graph.nodes.map((n) => n.name));
    expect(decoded.graph.node[0]).toMatchObject({ name: 'backbone.0.0.0/Conv', opType: 'Conv' });
    expect(decoded.graph.node[0]!.attribute!.map((a) => a.name)).toEqual(['kernel_shape', 'strides']);
    expect(decoded.graph.input[0]!.type.tensorType.shape.dim).toEqual([{ dimParam: 'batch_size' }, { dimValue: 2 }, { dimValue: 8 }, { dimValue: 4 }]);
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
      attributes: Object.fromEntries(Object.entries(n.attributes).map(([k, a]) => [k, a.type === 'float' ? { ...a, value: Math.fround(a.value) } : a])),
    });
    const strip = (m: Model): unknown => ({
      ...m,
      graph: { ...m.graph, nodes: m.graph.nodes.map(f32), initializers: m.graph.initializers.map((t) => ({ ...t, data: null })) },
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
    await expect(serializeModel(model)).rejects.toThrow("initializer 'position_head.0.weight': float32 [2, 5] needs 40 bytes, its data has 32");
  });

  it('refuses a lazy tensor whose loader returns the wrong number of bytes', async () => {
    const model = withInitializers(tinyModel(17), (t) =>
      t.name === 'position_head.0.bias' ? lazyTensor(t.name, t.dtype, t.dims, () => Promise.resolve(new Uint8Array(4))) : t,
    );
    await expect(serializeModel(model)).rejects.toThrow('loader returned 4 bytes, declared 8');
  });
});

describe('onnxruntime-node runs what we serialize', () => {
  it('Conv: matches a hand computation', async () => {
    // x = 1..9 as 3×3, w = [[1,2],[3,4]], bias 0.5: y[i][j] = Σ w·window + 0.5
    const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), [1, 1, 3, 3]);
    const { y } = await run(await serializeModel(singleConvModel()), { x });
    assertClose(y!, [1 + 4 + 12 + 20 + 0.5, 2 + 6 + 15 + 24 + 0.5, 4 + 10 + 21 + 32 + 0.5, 5 + 12 + 24 + 36 + 0.5], 1e-6, 0);
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
    const feeds = () => ({ mel_spectrogram: new ort.Tensor('float32', data, [batch, TINY.inChannels, TINY.height, TINY.width]) });
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

describe('writeModel', () => {
  it('writes file-backed initializers without changing a byte, and reports the file sha256', async () => {
    const model = tinyModel(17);
    const backed = await fileBacked(model, join(dir, 'weights.bin'));
    const written = await writeModel(backed, join(dir, 'file-backed.onnx'));
    const expected = await serializeModel(model);
    const onDisk = readFileSync(written.path);
    expect(onDisk.equals(Buffer.from(expected))).toBe(true);
    expect(written).toMatchObject({ bytes: expected.byteLength, sha256: sha256Bytes(expected) });
    expect(await sha256File(written.path)).toBe(written.sha256);
    expect(written.externalData).toBeUndefined();
    expect(existsSync(`${written.path}.partial`)).toBe(false);
  });

  it(`a file over ${TAIL_HASH_MIN_BYTES / 2 ** 20} MiB is hashed by the tail hasher: same bytes and sha256 as in memory`, async () => {
    // One big file-backed initializer (the copy path) and one big in-memory one (the detached path).
    const big = (seed: number) => {
      const words = new Uint32Array((TAIL_HASH_MIN_BYTES / 2 + 4096) / 4);
      for (let i = 0; i < words.length; i++) words[i] = Math.imul(i + seed, 2654435761);
      return new Uint8Array(words.buffer);
    };
    const onFile = big(1);
    writeFileSync(join(dir, 'big.bin'), onFile);
    const model = tinyModel(17);
    const extra = [
      fileTensor('big_on_file', 'uint8', [onFile.byteLength], join(dir, 'big.bin'), 0, onFile.byteLength),
      lazyTensor('big_in_memory', 'uint8', [onFile.byteLength], async () => big(2)),
    ];
    const withBig: Model = { ...model, graph: { ...model.graph, initializers: [...model.graph.initializers, ...extra] } };
    const written = await writeModel(withBig, join(dir, 'big.onnx'));
    expect(written.bytes).toBeGreaterThan(TAIL_HASH_MIN_BYTES);
    const expected = await serializeModel(withBig);
    expect(written.sha256).toBe(sha256Bytes(expected));
    expect(readFileSync(written.path).equals(Buffer.from(expected))).toBe(true);
    rmSync(written.path);
  });

  it('a large (tail-hashed) write that fails part-way leaves no file behind', async () => {
    const big = new Uint8Array(TAIL_HASH_MIN_BYTES);
    const model = tinyModel(17);
    const failing: Model = { ...model, graph: { ...model.graph, initializers: [
      ...model.graph.initializers,
      lazyTensor('big', 'uint8', [big.byteLength], async () => big),
      lazyTensor('broken', 'uint8', [4], async () => { throw new Error('source went away'); }),
    ] } };
    const path = join(dir, 'failing.onnx');
    await expect(writeModel(failing, path)).rejects.toThrow('source went away');
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.partial`)).toBe(false);
  });

  it('the tail hasher refuses to report a digest for bytes that were never written', async () => {
    const path = join(dir, 'short.bin');
    writeFileSync(path, Buffer.alloc(10));
    const hasher = FileTailHasher.start(path);
    hasher.advance(10);
    await expect(hasher.digest(20)).rejects.toThrow(`${path}: ends at byte 10, but 20 were reported written`);
    const ok = FileTailHasher.start(path);
    expect(await ok.digest(10)).toBe(sha256Bytes(new Uint8Array(10)));
  });

  it('makes missing parent folders of the output path', async () => {
    const written = await writeModel(tinyModel(17), join(dir, 'new', 'folder', 'm.onnx'));
    expect(statSync(written.path).size).toBe(written.bytes);
  });

  it('reads a model back with initializers as ranges of the .onnx file', async () => {
    const model = tinyModel(17);
    const path = join(dir, 'read-back.onnx');
    await writeModel(model, path);
    const back = await readModel(path);
    const w = back.graph.initializers.find((t) => t.name === 'position_head.0.weight')!;
    expect(w.data).toMatchObject({ kind: 'file', path, length: 32 });
    const want = await readTensorData(model.graph.initializers.find((t) => t.name === w.name)!.data);
    expect(Buffer.from(await readTensorData(w.data)).equals(Buffer.from(want))).toBe(true);
  });

  it('forced external data: a sidecar with aligned ranges that onnxruntime loads and our reader resolves', async () => {
    // Big enough that some tensors pass the 1 KiB inline threshold and one passes the 1 MiB alignment one.
    const base = tinyModel(17);
    const big = { ...base, graph: { ...base.graph, initializers: [...base.graph.initializers, weightsOf('extra.mid', [600], 6), weightsOf('extra.big', [300_000], 5)] } };
    const path = join(dir, 'external.onnx');
    const written = await writeModel(big, path, { externalData: 'always' });
    expect(written.externalData).toMatchObject({ path: join(dir, 'external.onnx.data') });
    expect(statSync(path).size).toBeLessThan(10_000);
    expect(written.externalData!.sha256).toBe(await sha256File(written.externalData!.path));

    const back = await readModel(path);
    const byName = new Map(back.graph.initializers.map((t) => [t.name, t]));
    expect(byName.get('extra.mid')!.data).toMatchObject({ kind: 'file', path: join(dir, 'external.onnx.data'), offset: 0, length: 2400 });
    expect(byName.get('extra.big')!.data).toMatchObject({ kind: 'file', offset: 65536, length: 1_200_000 });
    expect(byName.get('uncertainty_min')!.data).toMatchObject({ kind: 'file', path }); // tiny: stays inline
    for (const t of big.graph.initializers) {
      expect(Buffer.from(await readTensorData(byName.get(t.name)!.data)).equals(Buffer.from(await readTensorData(t.data))), t.name).toBe(true);
    }

    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
    try {
      const x = new ort.Tensor('float32', pseudoRandom(TINY.inChannels * TINY.height * TINY.width, 3), [1, TINY.inChannels, TINY.height, TINY.width]);
      const out = await session.run({ mel_spectrogram: x });
      const inline = await run(await serializeModel(base), { mel_spectrogram: x });
      assertClose(out.positions!.data as Float32Array, inline.positions!, 0, 0);
    } finally {
      await session.release();
    }
  });

  it('removes a stale sidecar when the same path is rewritten self-contained', async () => {
    const path = join(dir, 'rewrite.onnx');
    await writeModel(tinyModel(17), path, { externalData: 'always', externalDataFileName: 'rewrite.weights' });
    writeFileSync(join(dir, 'rewrite.onnx.data'), 'stale');
    await writeModel(tinyModel(17), path);
    expect(existsSync(join(dir, 'rewrite.onnx.data'))).toBe(false);
  });

  it('refuses a file-backed tensor whose range runs past the end of its file', async () => {
    writeFileSync(join(dir, 'short.bin'), new Uint8Array(10));
    const model = withInitializers(tinyModel(17), (t) =>
      t.name === 'position_head.0.weight' ? fileTensor(t.name, t.dtype, t.dims, join(dir, 'short.bin'), 0, 32) : t,
    );
    await expect(writeModel(model, join(dir, 'short.onnx'))).rejects.toThrow(/initializer 'position_head.0.weight': .*short.bin ends before byte 32/);
    expect(existsSync(join(dir, 'short.onnx.partial'))).toBe(false);
  });
});

function weightsOf(name: string, dims: number[], seed: number): Tensor {
  const values = pseudoRandom(dims.reduce((a, b) => a * b, 1), seed);
  return { name, dtype: 'float32', dims, data: { kind: 'memory', bytes: new Uint8Array(values.buffer) } };
}
