/**
 * Emission overlaps the checkpoint's hash and NaN/Inf check with writing (models/emit.ts): the bytes
 * must equal what the reference encoder gives for the fully loaded model, and a bad checkpoint must
 * fail exactly as loadBundle does, leaving no output (nor .partial) behind.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../checkpoint';
import { buildLocalizationNet, emitBundle, loadBundle } from '../../models';
import { sha256Bytes } from '../../hashing/file-sha256';
import { encodeWithOnnxProto } from './onnx-reference-encoder';
import { tempDir } from './checkpoint-safetensors-writer';
import { bundleWith, loadLocalizationNetBundle, SMALL_BUNDLE, smallEntries } from './models-fixtures';

describe('emission with the checkpoint checks in the background', () => {
  it('writes what onnx-proto encodes for the loaded model, with the checkpoint sha256 in metadata', async () => {
    const out = join(tempDir(), 'model.onnx');
    const result = await emitBundle(SMALL_BUNDLE, out);
    const bundle = await loadLocalizationNetBundle(SMALL_BUNDLE);
    const expected = await encodeWithOnnxProto(buildLocalizationNet(bundle).model);
    const actual = readFileSync(out);
    expect(Buffer.compare(actual, Buffer.from(expected))).toBe(0);
    expect(result.sha256).toBe(sha256Bytes(expected));
    expect(result.checkpointSha256).toBe(bundle.weightsSha256);
  });

  it.each([
    ['a file-backed weight', 'backbone.0.5.1.block.3.weight', 17, Number.NaN],
    ['a folded weight (layer_scale source)', 'backbone.0.5.1.block.5.weight', 3, Number.POSITIVE_INFINITY],
  ])('NaN/Inf in %s: the same CheckpointError as loadBundle, nothing written', async (_what, name, element, value) => {
    const entries = await smallEntries();
    const w = entries.get(name);
    if (w?.data === undefined) throw new Error(`fixture has no tensor ${name}`);
    const bytes = Buffer.from(w.data);
    bytes.writeFloatLE(value, 4 * element);
    entries.set(name, { ...w, data: bytes });
    const dir = bundleWith(entries);
    const expected = await loadBundle(dir).catch((e: unknown) => e);
    expect(expected).toBeInstanceOf(CheckpointError);
    const outDir = tempDir();
    const out = join(outDir, 'model.onnx');
    writeFileSync(out, 'previous model');
    const err = await emitBundle(dir, out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).message).toBe((expected as CheckpointError).message);
    expect((err as CheckpointError).message).toContain(`tensor '${name}'`);
    expect(readFileSync(out, 'utf8')).toBe('previous model');
    expect(readdirSync(outDir)).toEqual(['model.onnx']);
    expect(existsSync(`${out}.partial`)).toBe(false);
  });
});
