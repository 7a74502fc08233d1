/**
 * External data as a read graph names it (onnx/external-data.ts), and as the client's upload lists
 * and checks it (client/bundle-upload.ts bundleFiles): the files and their tensors; inside, outside
 * (a symlink leaving the folder) and missing.
 */
import { copyFileSync, mkdirSync, readFileSync, renameSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleFiles } from '../../client/bundle-upload';
import { emitBundle } from '../../models';
import { externalDataFiles, externalDataRefusals } from '../../onnx/external-data';
import { GraphBuilder } from '../../onnx/builder';
import { float32Tensor } from '../../onnx/ir';
import { readModel } from '../../onnx/serialize-read';
import { writeModel } from '../../onnx/write-model';
import { tempDir } from './checkpoint-safetensors-writer';
import { SMALL_BUNDLE } from './models-fixtures';

/** A graph bundle whose weights live in `weights/w.bin` (a sub-folder), written by our writer. */
async function graphWithSubfolderData(): Promise<string> {
  const dir = tempDir();
  const b = new GraphBuilder({ opset: 17 });
  const w = b.initializer(float32Tensor('w', [256, 4], new Float32Array(1024).fill(0.5)));
  const v = b.initializer(float32Tensor('v', [4], [1, 2, 3, 4]));
  const x = b.input('x', 'float32', ['batch_size', 256]);
  b.add('bias', b.matMul('proj', x, w), v, { output: 'y' });
  b.output('y', 'float32', ['batch_size', 4]);
  await writeModel(b.build(), join(dir, 'model.onnx'), { externalData: 'always' });
  // Move the sidecar into weights/ and point the graph there (same-length location keeps protobuf valid).
  mkdirSync(join(dir, 'weights'));
  renameSync(join(dir, 'model.onnx.data'), join(dir, 'weights', 'w.bin.data'));
  const text = readFileSync(join(dir, 'model.onnx')).toString('latin1');
  writeFileSync(join(dir, 'model.onnx'), Buffer.from(text.split('model.onnx.data').join('weights/w.bin.d'), 'latin1'));
  renameSync(join(dir, 'weights', 'w.bin.data'), join(dir, 'weights', 'w.bin.d'));
  copyFileSync(join(SMALL_BUNDLE, 'reference.safetensors'), join(dir, 'reference.safetensors'));
  return dir;
}

describe('externalDataFiles', () => {
  it('lists each file the graph names, relative to its folder, with the tensors stored in it', async () => {
    const dir = await graphWithSubfolderData();
    const model = await readModel(join(dir, 'model.onnx'));
    // Only initializers of 1 KiB or more go to the sidecar: `w` does, `v` (16 bytes) stays inline.
    expect(externalDataFiles(model, join(dir, 'model.onnx'))).toEqual([
      { location: 'weights/w.bin.d', tensors: ['w'] },
    ]);
    expect(await externalDataRefusals(model, join(dir, 'model.onnx'))).toEqual([]);
  });

  it('a graph without external data names none', async () => {
    const out = join(tempDir(), 'model.onnx');
    await emitBundle(SMALL_BUNDLE, out);
    expect(externalDataFiles(await readModel(out), out)).toEqual([]);
  });
});

describe('externalDataRefusals', () => {
  it('a missing file: refused naming the tensor and the location', async () => {
    const dir = await graphWithSubfolderData();
    unlinkSync(join(dir, 'weights', 'w.bin.d'));
    const model = await readModel(join(dir, 'model.onnx'));
    expect(await externalDataRefusals(model, join(dir, 'model.onnx'))).toEqual([
      {
        tensor: 'w',
        location: 'weights/w.bin.d',
        problem: "external data file 'weights/w.bin.d' does not exist in the bundle",
      },
    ]);
  });

  it('a symlink out of the folder: refused naming the tensor, the location and where it leads', async () => {
    const dir = await graphWithSubfolderData();
    const outside = join(tempDir(), 'stolen.bin');
    renameSync(join(dir, 'weights', 'w.bin.d'), outside);
    symlinkSync(outside, join(dir, 'weights', 'w.bin.d'));
    const model = await readModel(join(dir, 'model.onnx'));
    const [refusal] = await externalDataRefusals(model, join(dir, 'model.onnx'));
    expect(refusal).toMatchObject({ tensor: 'w', location: 'weights/w.bin.d' });
    expect(refusal?.problem).toMatch(
      /^external data file 'weights\/w\.bin\.d' resolves to .*stolen\.bin, outside the bundle/,
    );
  });

  it('a symlink that stays inside the folder is fine', async () => {
    const dir = await graphWithSubfolderData();
    renameSync(join(dir, 'weights', 'w.bin.d'), join(dir, 'real.bin'));
    symlinkSync(join(dir, 'real.bin'), join(dir, 'weights', 'w.bin.d'));
    const model = await readModel(join(dir, 'model.onnx'));
    expect(await externalDataRefusals(model, join(dir, 'model.onnx'))).toEqual([]);
  });
});

describe("the client's upload list (bundleFiles)", () => {
  it('a graph bundle uploads its external data too, as the graph names it', async () => {
    const dir = await graphWithSubfolderData();
    expect(await bundleFiles(dir)).toEqual(['model.onnx', 'reference.safetensors', 'weights/w.bin.d']);
  });

  it('a weights bundle uploads its three files (and calibration when present), nothing else', async () => {
    expect(await bundleFiles(SMALL_BUNDLE)).toEqual(['config.json', 'model.safetensors', 'reference.safetensors']);
  });

  it('a torch checkpoint bundle uploads its checkpoint and reference, config.json only when present', async () => {
    const dir = tempDir();
    for (const f of ['best_model.pth', 'reference.safetensors', 'notes.txt']) writeFileSync(join(dir, f), '');
    expect(await bundleFiles(dir)).toEqual(['best_model.pth', 'reference.safetensors']);
    writeFileSync(join(dir, 'config.json'), '{}');
    expect(await bundleFiles(dir)).toEqual(['config.json', 'best_model.pth', 'reference.safetensors']);
    writeFileSync(join(dir, 'model.safetensors'), '');
    await expect(bundleFiles(dir)).rejects.toThrow(
      `${join(dir, 'model.safetensors')}: the bundle has 2 weights files, best_model.pth and model.safetensors`,
    );
  });

  it('refuses missing external data, naming the file and the tensor', async () => {
    const dir = await graphWithSubfolderData();
    unlinkSync(join(dir, 'weights', 'w.bin.d'));
    await expect(bundleFiles(dir)).rejects.toThrow(
      `${join(dir, 'model.onnx')}: tensor 'w': external data file 'weights/w.bin.d' does not exist in the bundle`,
    );
  });

  it('refuses a symlink leaving the bundle, naming the file and the tensor', async () => {
    const dir = await graphWithSubfolderData();
    const outside = join(tempDir(), 'stolen.bin');
    renameSync(join(dir, 'weights', 'w.bin.d'), outside);
    symlinkSync(outside, join(dir, 'weights', 'w.bin.d'));
    await expect(bundleFiles(dir)).rejects.toThrow(/model\.onnx: tensor 'w': external data file .* outside the bundle/);
  });

  it('refuses a graph that does not parse, naming the file', async () => {
    const dir = await graphWithSubfolderData();
    writeFileSync(join(dir, 'model.onnx'), 'garbage');
    await expect(bundleFiles(dir)).rejects.toThrow(
      `${join(dir, 'model.onnx')}: graph: not an ONNX model this tool can read: `,
    );
  });

  it('refuses a graph bundle without a reference, naming reference.safetensors', async () => {
    const dir = await graphWithSubfolderData();
    unlinkSync(join(dir, 'reference.safetensors'));
    await expect(bundleFiles(dir)).rejects.toThrow(
      `${join(dir, 'reference.safetensors')}: the checkpoint bundle has no reference.safetensors`,
    );
  });
});
