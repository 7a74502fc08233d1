/**
 * Unit: serializeModelReferencingFiles writes a model whose file-backed initializers (1 KiB or more)
 * stay where they are, as external-data references to the location it is given, and the rest inline:
 * onnxruntime loads it from a folder holding a hard link to the source and gives the original's
 * outputs, and the file holds no weight bytes.
 */
import { linkSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { serializeModelReferencingFiles } from '../../onnx/encode';
import { GraphBuilder } from '../../onnx/builder';
import { float32Tensor } from '../../onnx/ir';
import { readModel } from '../../onnx/serialize-read';
import { writeModel } from '../../onnx/write-model';
import { pseudoRandom } from './onnx-test-models';

const dir = mkdtempSync(join(tmpdir(), 'onnx-referencing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('serializeModelReferencingFiles', () => {
  it('refers to file-backed weights of 1 KiB or more by location and range; onnxruntime runs it as the original', async () => {
    const b = new GraphBuilder({ opset: 17 });
    const x = b.input('x', 'float32', ['n', 64]);
    const w = b.initializer(float32Tensor('fc.weight', [64, 64], pseudoRandom(64 * 64, 1))); // 16 KiB
    const bias = b.initializer(float32Tensor('fc.bias', [64], pseudoRandom(64, 2))); // 256 B: inline
    b.add('fc', b.matMul('fc', x, w), bias, { output: 'y' });
    b.output('y', 'float32', ['n', 64]);
    const original = join(dir, 'original.onnx');
    await writeModel(b.build(), original);

    const slices = mkdtempSync(join(dir, 'slices-'));
    linkSync(original, join(slices, 'source.onnx'));
    const read = await readModel(original);
    const bytes = await serializeModelReferencingFiles(read, (p) => (p === original ? 'source.onnx' : undefined));
    const slice = join(slices, 'slice.onnx');
    writeFileSync(slice, bytes);
    expect(bytes.byteLength).toBeLessThan(2048);
    expect(statSync(original).size).toBeGreaterThan(16 * 1024);

    const back = await readModel(slice);
    const weight = back.graph.initializers.find((t) => t.name === 'fc.weight');
    const readWeight = read.graph.initializers.find((t) => t.name === 'fc.weight');
    expect(weight?.data).toMatchObject({ kind: 'file', path: join(slices, 'source.onnx') });
    expect(weight?.data.kind === 'file' && readWeight?.data.kind === 'file' && weight.data.offset).toBe(
      readWeight?.data.kind === 'file' && readWeight.data.offset,
    );
    expect(back.graph.initializers.find((t) => t.name === 'fc.bias')?.data).toMatchObject({
      kind: 'file',
      path: slice,
    });

    const feeds = { x: new ort.Tensor('float32', pseudoRandom(3 * 64, 3), [3, 64]) };
    const run = async (path: string) => {
      const s = await ort.InferenceSession.create(path);
      const out = (await s.run(feeds)).y?.data as Float32Array;
      await s.release();
      return Array.from(out);
    };
    expect(await run(slice)).toEqual(await run(original));
  });
});
