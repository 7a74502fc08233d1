/**
 * A bundle's own model.onnx, made ready to stage: read with our reader, its signature read from the
 * graph (float32, int64 and bool tensors only), its external data checked (there, inside the bundle,
 * long enough), and written as one file: the bytes as given when the graph has no external data,
 * else consolidated by our writer (the only change: the weights move into the file). What it
 * returns is what an emission returns, with `source: 'brought'` and the graph's own producer.
 *
 * It must not change a graph's contents, validate its structure (onnx/checker, the next stage) or
 * run it (parity/). A request `opset` is refused: the graph's own opset is the one it has.
 */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLE_FILES, CheckpointError } from '../checkpoint';
import { MAX_EMIT_OPSET, MIN_EMIT_OPSET } from '../common/export-contract';
import type { ModelSignature } from '../common/model-signature';
import { sha256File } from '../hashing/file-sha256';
import { PROTOBUF_LIMIT_BYTES } from '../onnx/encode';
import { externalDataFiles, externalDataRefusals } from '../onnx/external-data';
import { graphSignature } from '../onnx/graph-signature';
import { dataByteLength, formatShape, type Model, type ValueInfo } from '../onnx/ir';
import { ModelReadError, readModel } from '../onnx/serialize-read';
import { writeModel } from '../onnx/write-model';
import type { EmitResult } from './emit-result';

/** The element types a brought graph's inputs and outputs may have: what parity feeds and compares. */
const BROUGHT_DTYPES: readonly string[] = ['float32', 'int64', 'bool'];

export interface StageGraphOptions {
  /** A request's opset: refused, naming `opset`, when given. */
  readonly opset?: number;
}

/**
 * Reads a brought graph with our reader; one it refuses is refused naming the file (and the tensor,
 * when the reader's refusal is about one, e.g. an external data location outside the folder).
 */
export async function readBroughtGraph(path: string): Promise<Model> {
  try {
    return await readModel(path);
  } catch (err) {
    if (!(err instanceof ModelReadError)) throw err;
    const detail = err.message.startsWith(`${path}: `) ? err.message.slice(path.length + 2) : err.message;
    const about = detail.startsWith("tensor '") ? detail : `not an ONNX model this tool can read: ${detail}`;
    throw new CheckpointError({ file: path, subject: 'graph' }, about);
  }
}

function checkValue(v: ValueInfo, role: 'input' | 'output', file: string): void {
  const fail = (expected: string, actual: string): never => {
    throw new CheckpointError({ file, subject: `graph ${role} '${v.name}'`, expected, actual });
  };
  if (v.dtype === undefined) fail('an element type', 'none');
  if (!BROUGHT_DTYPES.includes(v.dtype as string)) fail(BROUGHT_DTYPES.join(', '), String(v.dtype));
  if (v.shape === undefined) fail('a shape (its rank, with the batch axis first)', 'none');
  if ((v.shape as readonly unknown[]).length === 0) fail('a leading batch axis', formatShape(v.shape));
}

/** The graph's signature, once every input and output is a tensor parity can feed or compare. */
function broughtSignature(model: Model, file: string): ModelSignature {
  for (const v of model.graph.inputs) checkValue(v, 'input', file);
  for (const v of model.graph.outputs) checkValue(v, 'output', file);
  return graphSignature(model);
}

/** Stages `<bundleDir>/model.onnx` at `outPath` (one file), or refuses it naming the file and the field or tensor. */
export async function stageBroughtGraph(
  bundleDir: string,
  outPath: string,
  options: StageGraphOptions = {},
): Promise<EmitResult> {
  const start = process.hrtime.bigint();
  const path = join(bundleDir, BUNDLE_FILES.graph);
  const model = await readBroughtGraph(path);
  if (options.opset !== undefined) {
    throw new CheckpointError({
      file: path,
      subject: 'opset',
      expected: `no opset in the request: a bundle's own model.onnx is taken as it is, at its opset ${model.opset}`,
      actual: String(options.opset),
    });
  }
  if (model.opset < MIN_EMIT_OPSET || model.opset > MAX_EMIT_OPSET) {
    throw new CheckpointError({
      file: path,
      subject: 'opset',
      expected: `an ai.onnx opset from ${MIN_EMIT_OPSET} to ${MAX_EMIT_OPSET} (what the pipeline validates and publishes)`,
      actual: String(model.opset),
    });
  }
  const signature = broughtSignature(model, path);
  const refusals = await externalDataRefusals(model, path, bundleDir);
  const first = refusals[0];
  if (first !== undefined) {
    const more = refusals.length > 1 ? ` (and ${refusals.length - 1} more external data problems)` : '';
    throw new CheckpointError({ file: path, subject: `tensor '${first.tensor}'` }, `${first.problem}${more}`);
  }
  const given = await sha256File(path);
  let written: { sha256: string; bytes: number };
  if (externalDataFiles(model, path).length === 0) {
    await copyFile(path, outPath);
    written = await sha256File(outPath);
    if (written.sha256 !== given.sha256) throw new Error(`${path}: changed while it was being staged`);
  } else {
    const consolidated = given.bytes + model.graph.initializers.reduce((n, t) => n + dataByteLength(t.data), 0);
    if (consolidated > PROTOBUF_LIMIT_BYTES) {
      throw new CheckpointError({
        file: path,
        subject: 'external data',
        expected: 'weights that fit one ONNX file with the graph (under 2 GiB), as the pipeline stages one file',
        actual: `about ${consolidated} bytes together`,
      });
    }
    written = await writeModel(model, outPath, { externalData: 'never' });
  }
  return {
    path: outPath,
    sha256: written.sha256,
    bytes: written.bytes,
    source: 'brought',
    opset: model.opset,
    producer: { name: model.producerName, version: model.producerVersion },
    settings: {},
    checkpointSha256: given.sha256,
    nodes: model.graph.nodes.length,
    initializers: model.graph.initializers.length,
    signature,
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
  };
}
