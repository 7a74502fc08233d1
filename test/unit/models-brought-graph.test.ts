/**
 * A bundle's own model.onnx staged as it is (models/brought-graph.ts, through emitBundle): the
 * committed small LocalizationNet, emitted by us, stands in for a graph another tool wrote, so a
 * valid bring-your-own bundle needs no torch. Staged bytes, provenance and signature; external data
 * consolidated into one file; the brought graph staged, not our own, when the bundle also carries
 * its checkpoint; and every refusal, naming the file and the tensor or field.
 */
import { readFileSync, renameSync, symlinkSync, unlinkSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../../checkpoint';
import { emitBundle, emitFromWeights } from '../../models';
import { GraphBuilder } from '../../onnx/builder';
import { checkModel } from '../../onnx/checker';
import { readModel } from '../../onnx/serialize-read';
import { writeModel } from '../../onnx/write-model';
import { runParity } from '../../parity';
import { tempDir } from './checkpoint-safetensors-writer';
import { SMALL_BUNDLE } from './models-fixtures';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A graph bundle: our small LocalizationNet as model.onnx (its weights inline or in model.onnx.data) and its reference. */
async function broughtBundle(options: { externalData?: boolean; opset?: number } = {}): Promise<string> {
  const dir = tempDir();
  await emitBundle(SMALL_BUNDLE, join(dir, 'model.onnx'), {
    ...(options.opset !== undefined ? { opset: options.opset } : {}),
    ...(options.externalData ? { externalData: true } : {}),
  });
  copyFileSync(join(SMALL_BUNDLE, 'reference.safetensors'), join(dir, 'reference.safetensors'));
  return dir;
}

/** Replaces a same-length string in a file's bytes (keeps protobuf lengths valid). */
function replaceBytes(path: string, from: string, to: string): void {
  expect(to.length).toBe(from.length);
  const bytes = readFileSync(path);
  const text = bytes.toString('latin1');
  expect(text).toContain(from);
  writeFileSync(path, Buffer.from(text.split(from).join(to), 'latin1'));
}

async function refused(dir: string, options: { opset?: number } = {}): Promise<CheckpointError> {
  const err = await emitBundle(dir, join(tempDir(), 'staged.onnx'), options).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CheckpointError);
  return err as CheckpointError;
}

describe('a brought graph without external data', () => {
  it('is staged byte for byte, tagged brought with its own producer, opset, nodes and signature', async () => {
    const dir = await broughtBundle({ opset: 20 });
    const given = join(dir, 'model.onnx');
    const emitted = await emitBundle(SMALL_BUNDLE, join(tempDir(), 'reference-emit.onnx'), { opset: 20 });
    const out = join(tempDir(), 'staged.onnx');
    const staged = await emitBundle(dir, out);
    expect(readFileSync(out).equals(readFileSync(given))).toBe(true);
    expect(staged).toMatchObject({
      path: out,
      sha256: sha256(given),
      bytes: readFileSync(given).length,
      source: 'brought',
      producer: { name: 'onnx-export-pipeline', version: emitted.producer.version },
      settings: {},
      checkpointSha256: sha256(given),
      opset: 20,
      nodes: emitted.nodes,
      initializers: emitted.initializers,
      signature: emitted.signature,
    });
    expect(staged.architecture).toBeUndefined();
  });

  it('refuses a request opset, naming opset and the graph’s own', async () => {
    const err = await refused(await broughtBundle(), { opset: 17 });
    expect(err.subject).toBe('opset');
    expect(err.message).toMatch(/model\.onnx: opset: expected no opset in the request: .* at its opset 17, got 17$/);
  });

  it('refuses a graph that does not parse, naming the file', async () => {
    const dir = await broughtBundle();
    writeFileSync(join(dir, 'model.onnx'), 'this is not a protobuf\n');
    const err = await refused(dir);
    expect(err.file).toBe(join(dir, 'model.onnx'));
    expect(err.message).toMatch(/model\.onnx: graph: not an ONNX model this tool can read: /);
  });

  it('refuses an input of an element type parity cannot feed, naming the input', async () => {
    const dir = tempDir();
    const b = new GraphBuilder({ opset: 17 });
    b.cast('to_float', b.input('half', 'float16', ['batch_size', 4]), 'float32', { output: 'y' });
    b.output('y', 'float32', ['batch_size', 4]);
    await writeModel(b.build(), join(dir, 'model.onnx'));
    copyFileSync(join(SMALL_BUNDLE, 'reference.safetensors'), join(dir, 'reference.safetensors'));
    const err = await refused(dir);
    expect(err.message).toBe(
      `${join(dir, 'model.onnx')}: graph input 'half': expected float32, int64, bool, got float16`,
    );
  });

  it('refuses an opset the pipeline does not publish, naming it', async () => {
    const dir = tempDir();
    const b = new GraphBuilder({ opset: 13 });
    b.identity('copy', b.input('x', 'float32', ['batch_size', 4]), { output: 'y' });
    b.output('y', 'float32', ['batch_size', 4]);
    await writeModel(b.build(), join(dir, 'model.onnx'));
    const err = await refused(dir);
    expect(err.subject).toBe('opset');
    expect(err.message).toContain('expected an ai.onnx opset from 14 to 21');
  });
});

describe('a brought graph with external data', () => {
  it('inside the bundle: consolidated into one file our checker passes and onnxruntime runs as PyTorch did', async () => {
    const dir = await broughtBundle({ externalData: true });
    expect(existsSync(join(dir, 'model.onnx.data'))).toBe(true);
    const out = join(tempDir(), 'staged.onnx');
    const staged = await emitBundle(dir, out);
    expect(staged.source).toBe('brought');
    expect(staged.checkpointSha256).toBe(sha256(join(dir, 'model.onnx')));
    expect(staged.sha256).toBe(sha256(out));
    expect(existsSync(`${out}.data`)).toBe(false);
    const model = await readModel(out);
    expect(model.graph.initializers.every((t) => t.data.kind !== 'file' || t.data.path === out)).toBe(true);
    expect(checkModel(model).problems).toEqual([]);
    const report = await runParity(out, join(dir, 'reference.safetensors'), { mae: 1e-6, maxAbs: 1e-5 });
    expect(report.failures).toEqual([]);
    // Consolidated the same way, the weights inline: the same bytes as our own emission of them.
    const inline = await emitBundle(SMALL_BUNDLE, join(tempDir(), 'inline.onnx'));
    expect(staged.sha256).toBe(inline.sha256);
  });

  it('missing: refused naming the file and the tensor', async () => {
    const dir = await broughtBundle({ externalData: true });
    unlinkSync(join(dir, 'model.onnx.data'));
    const err = await refused(dir);
    expect(err.message).toMatch(
      /model\.onnx: tensor '[^']+': external data file 'model\.onnx\.data' does not exist in the bundle/,
    );
  });

  it("pointing outside the bundle with '..': refused naming the file and the tensor", async () => {
    const dir = await broughtBundle({ externalData: true });
    replaceBytes(join(dir, 'model.onnx'), 'model.onnx.data', '../outside.data');
    const err = await refused(dir);
    expect(err.message).toMatch(
      /model\.onnx: graph: .*tensor '[^']+': external data location '\.\.\/outside\.data' must be relative and inside/,
    );
  });

  it('pointing outside the bundle with an absolute path: refused naming the file and the tensor', async () => {
    const dir = await broughtBundle({ externalData: true });
    replaceBytes(join(dir, 'model.onnx'), 'model.onnx.data', '/tmp/ab.cd.data');
    const err = await refused(dir);
    expect(err.message).toMatch(/model\.onnx: graph: .*tensor '[^']+': external data location '\/tmp\/ab\.cd\.data'/);
  });

  it('a symlink that leaves the bundle: refused naming the file and the tensor', async () => {
    const dir = await broughtBundle({ externalData: true });
    const elsewhere = join(tempDir(), 'weights.data');
    renameSync(join(dir, 'model.onnx.data'), elsewhere);
    symlinkSync(elsewhere, join(dir, 'model.onnx.data'));
    const err = await refused(dir);
    expect(err.message).toMatch(
      /model\.onnx: tensor '[^']+': external data file 'model\.onnx\.data' resolves to .*weights\.data, outside the bundle/,
    );
  });

  it('shorter than its tensors: refused naming the file and the tensor', async () => {
    const dir = await broughtBundle({ externalData: true });
    const data = join(dir, 'model.onnx.data');
    writeFileSync(data, readFileSync(data).subarray(0, 1000));
    const err = await refused(dir);
    expect(err.message).toMatch(/model\.onnx: tensor '[^']+': bytes \d+\.\.\d+ are past the end of external data file/);
  });
});

describe('a graph bundle that carries the checkpoint its graph was exported from', () => {
  it('stages its own model.onnx as it is; emitFromWeights emits our graph from the checkpoint beside it', async () => {
    const dir = await broughtBundle({ opset: 14 });
    copyFileSync(join(SMALL_BUNDLE, 'model.safetensors'), join(dir, 'model.safetensors'));
    copyFileSync(join(SMALL_BUNDLE, 'config.json'), join(dir, 'config.json'));
    const staged = await emitBundle(dir, join(tempDir(), 'staged.onnx'));
    expect(staged).toMatchObject({ source: 'brought', opset: 14, sha256: sha256(join(dir, 'model.onnx')) });
    const ours = await emitFromWeights(dir, join(tempDir(), 'ours.onnx'));
    expect(ours).toMatchObject({ source: 'emitted', opset: 17, architecture: 'LocalizationNet' });
    expect(ours.sha256).toBe((await emitBundle(SMALL_BUNDLE, join(tempDir(), 'weights.onnx'))).sha256);
  });

  it('two weights files beside model.onnx are refused naming both', async () => {
    const dir = await broughtBundle();
    copyFileSync(join(SMALL_BUNDLE, 'model.safetensors'), join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'best_model.pth'), 'not read');
    const err = await emitBundle(dir, join(tempDir(), 'x.onnx')).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `${join(dir, 'model.safetensors')}: the bundle has 2 weights files, best_model.pth and model.safetensors: ` +
        'a graph is emitted from one (remove the others); beside model.onnx, one is the checkpoint it was exported from',
    );
  });
});
