import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Bytes, sha256File } from '../../hashing/file-sha256';
import { FileTailHasher, TAIL_HASH_MIN_BYTES } from '../../hashing/worker-sha256';
import { serializeModel } from '../../onnx/encode';
import type { Model } from '../../onnx/ir';
import { fileTensor, lazyTensor } from '../../onnx/ir';
import { OnnxInputError, OnnxIoError } from '../../onnx/onnx-error';
import { readModel } from '../../onnx/serialize-read';
import { readTensorData } from '../../onnx/tensor-bytes';
import { writeModel } from '../../onnx/write-model';
import { assertClose, run, weightsOf, withInitializers } from './onnx-test-helpers';
import { pseudoRandom, tinyModel, TINY } from './onnx-test-models';

const dir = mkdtempSync(join(tmpdir(), 'onnx-write-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
  return withInitializers(model, (t, i) =>
    fileTensor(t.name, t.dtype, t.dims, path, offsets[i] as number, parts[i]!.byteLength),
  );
}

describe('writeModel', () => {
  it('writes file-backed initializers without changing a byte, and reports the file sha256', async () => {
    const model = tinyModel(17);
    const backed = await fileBacked(model, join(dir, 'weights.bin'));
    const written = await writeModel(backed, join(dir, 'file-backed.onnx'));
    const expected = await serializeModel(model);
    const onDisk = readFileSync(written.path);
    expect(onDisk.equals(Buffer.from(expected))).toBe(true);
    expect(written).toMatchObject({ bytes: expected.byteLength, sha256: sha256Bytes(expected) });
    expect((await sha256File(written.path)).sha256).toBe(written.sha256);
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
    const withBig: Model = {
      ...model,
      graph: { ...model.graph, initializers: [...model.graph.initializers, ...extra] },
    };
    const written = await writeModel(withBig, join(dir, 'big.onnx'));
    expect(written.bytes).toBeGreaterThan(TAIL_HASH_MIN_BYTES);
    const expected = await serializeModel(withBig);
    expect(written.sha256).toBe(sha256Bytes(expected));
    expect(readFileSync(written.path).equals(Buffer.from(expected))).toBe(true);
    rmSync(written.path);
  });

  it('a large file: small file-backed tensors after a detached copy do not overwrite it while it is written', async () => {
    // convnext_tiny's emitted downsample weights (1.2 and 4.7 MB, each followed by small tensors) came out
    // as other tensors' bytes: the copy buffer of a detached write was reused by the small tensors' reads.
    const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251);
    const parts = [pattern(TAIL_HASH_MIN_BYTES, 1), pattern(2 * 2 ** 20, 2)];
    for (let k = 0; k < 6; k++) parts.push(pattern(4096, 3 + k));
    const source = join(dir, 'copy-order.bin');
    writeFileSync(source, Buffer.concat(parts));
    let at = 0;
    const initializers = parts.map((p, k) => {
      const t = fileTensor(`t${k}`, 'uint8', [p.byteLength], source, at, p.byteLength);
      at += p.byteLength;
      return t;
    });
    const model = tinyModel(17);
    const withCopies: Model = {
      ...model,
      graph: { ...model.graph, initializers: [...model.graph.initializers, ...initializers] },
    };
    const written = await writeModel(withCopies, join(dir, 'copy-order.onnx'));
    expect(written.bytes).toBeGreaterThan(TAIL_HASH_MIN_BYTES);
    const back = await readModel(written.path);
    for (const [k, p] of parts.entries()) {
      const t = back.graph.initializers.find((i) => i.name === `t${k}`);
      expect(Buffer.from(await readTensorData(t!.data)).equals(Buffer.from(p)), `t${k}`).toBe(true);
    }
    rmSync(written.path);
    rmSync(source);
  });

  it('a large (tail-hashed) write that fails part-way leaves no file behind', async () => {
    const big = new Uint8Array(TAIL_HASH_MIN_BYTES);
    const model = tinyModel(17);
    const failing: Model = {
      ...model,
      graph: {
        ...model.graph,
        initializers: [
          ...model.graph.initializers,
          lazyTensor('big', 'uint8', [big.byteLength], async () => big),
          lazyTensor('broken', 'uint8', [4], async () => {
            throw new Error('source went away');
          }),
        ],
      },
    };
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
    const big = {
      ...base,
      graph: {
        ...base.graph,
        initializers: [
          ...base.graph.initializers,
          weightsOf('extra.mid', [600], 6),
          weightsOf('extra.big', [300_000], 5),
        ],
      },
    };
    const path = join(dir, 'external.onnx');
    const written = await writeModel(big, path, { externalData: 'always' });
    expect(written.externalData).toMatchObject({ path: join(dir, 'external.onnx.data') });
    expect(statSync(path).size).toBeLessThan(10_000);
    expect(written.externalData!.sha256).toBe((await sha256File(written.externalData!.path)).sha256);

    const back = await readModel(path);
    const byName = new Map(back.graph.initializers.map((t) => [t.name, t]));
    expect(byName.get('extra.mid')!.data).toMatchObject({
      kind: 'file',
      path: join(dir, 'external.onnx.data'),
      offset: 0,
      length: 2400,
    });
    expect(byName.get('extra.big')!.data).toMatchObject({ kind: 'file', offset: 65536, length: 1_200_000 });
    expect(byName.get('uncertainty_min')!.data).toMatchObject({ kind: 'file', path }); // tiny: stays inline
    for (const t of big.graph.initializers) {
      expect(
        Buffer.from(await readTensorData(byName.get(t.name)!.data)).equals(Buffer.from(await readTensorData(t.data))),
        t.name,
      ).toBe(true);
    }

    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
    try {
      const x = new ort.Tensor('float32', pseudoRandom(TINY.inChannels * TINY.height * TINY.width, 3), [
        1,
        TINY.inChannels,
        TINY.height,
        TINY.width,
      ]);
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
    await expect(writeModel(model, join(dir, 'short.onnx'))).rejects.toThrow(
      /initializer 'position_head.0.weight': .*short.bin ends before byte 32/,
    );
    expect(existsSync(join(dir, 'short.onnx.partial'))).toBe(false);
  });
});

describe('writeModel: what it throws (onnx/write-boundary.ts)', () => {
  /** Nothing under `path`'s name is left: no model, no .partial. */
  const nothingAt = (path: string): void => {
    expect(existsSync(path)).toBe(false);
    expect(() => lstatSync(`${path}.partial`)).toThrow(/ENOENT/);
  };

  it('a full disk is a transient OnnxIoError naming the file and ENOSPC, and leaves nothing behind', async () => {
    // The partial file is a link to /dev/full, where every write fails with ENOSPC as on a full disk.
    const path = join(dir, 'full.onnx');
    symlinkSync('/dev/full', `${path}.partial`);
    const err = await writeModel(tinyModel(17), path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxIoError);
    expect(err).toMatchObject({ retryable: true, context: { file: path, code: 'ENOSPC' } });
    expect((err as OnnxIoError).message).toBe(`${path}: ENOSPC: no space left on device, write`);
    nothingAt(path);
  });

  it('a tensor source that is gone when the write reads it is an OnnxIoError naming the source, in a message naming the model', async () => {
    const gone = join(dir, 'gone.bin');
    const model = withInitializers(tinyModel(17), (t) =>
      t.name === 'position_head.0.weight' ? fileTensor(t.name, t.dtype, t.dims, gone, 0, 32) : t,
    );
    const path = join(dir, 'source-gone.onnx');
    const err = await writeModel(model, path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxIoError);
    expect(err).toMatchObject({ context: { file: gone, code: 'ENOENT' } });
    expect((err as OnnxIoError).message).toMatch(new RegExp(`^${path}: ENOENT: .*${gone}`));
    nothingAt(path);
  });

  it('a model over 2 GiB without external data is a final OnnxInputError located in the output file, before any byte is written', async () => {
    const model = tinyModel(17);
    const huge: Model = {
      ...model,
      graph: {
        ...model.graph,
        // Planning needs only lengths: the source file is never opened.
        initializers: [
          ...model.graph.initializers,
          fileTensor('huge', 'uint8', [2 ** 31], join(dir, 'absent'), 0, 2 ** 31),
        ],
      },
    };
    const path = join(dir, 'huge.onnx');
    const err = await writeModel(huge, path, { externalData: 'never' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxInputError);
    expect(err).toMatchObject({
      kind: 'data',
      retryable: false,
      context: { file: path, subject: 'model', expected: `at most ${2 ** 31 - 1} bytes` },
    });
    expect((err as OnnxInputError).message).toMatch(
      new RegExp(`^${path}: model is \\d+ bytes, over protobuf's 2 GiB limit; write it with external data$`),
    );
    nothingAt(path);
  });

  it('an external data file name with a folder in it is a final OnnxInputError naming both', async () => {
    const path = join(dir, 'bad-sidecar.onnx');
    const err = await writeModel(tinyModel(17), path, { externalDataFileName: '../x.data' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OnnxInputError);
    expect(err).toMatchObject({ kind: 'data', context: { file: path, actual: '../x.data' } });
    expect((err as OnnxInputError).message).toBe(
      `${path}: external data file name '../x.data' must be a plain file name, different from the model's`,
    );
  });

  it("the late metadata's own failure reaches the caller as it was thrown, and nothing is written", async () => {
    class HashFailed extends Error {}
    const thrown = new HashFailed('weights are not finite');
    const path = join(dir, 'late-metadata.onnx');
    await expect(writeModel(tinyModel(17), path, { metadata: Promise.reject(thrown) })).rejects.toBe(thrown);
    nothingAt(path);
  });
});
