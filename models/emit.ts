/**
 * Emission: bundle directory → ONNX file, with the file's sha256 as its identity. A weights bundle's
 * config picks its architecture (models/architectures.ts), whose weight check and build give the
 * graph; a bundle with its own model.onnx is staged as it is (brought-graph.ts). The same bundle and
 * options give the same bytes.
 *
 * For weights, the hash and NaN/Inf check (a worker thread; a small file's is done on this thread as
 * it is opened) run while the model is written: the checkpoint hash is only needed for metadata_props,
 * which come after the graph, and a non-finite weight aborts the write (nothing is renamed into place) with the same CheckpointError loadBundle
 * gives. It must not validate the written model (onnx/checker) nor run it (parity/).
 */
import { isDeepStrictEqual } from 'node:util';
import { graphSignature } from '../onnx/graph-signature';
import type { WrittenModel } from '../onnx/write-model';
import { writeModel } from '../onnx/write-model';
import type { BuildOptions, BuiltGraph } from './architecture';
import { stageBroughtGraph } from './brought-graph';
import { openBundle, readBundleKind } from './bundle';
import type { EmitResult } from './emit-result';

export type { EmitResult };

export interface EmitOptions extends BuildOptions {
  /** Write initializers to a `<model>.data` sidecar even when the model is under 2 GB (weights bundles). */
  readonly externalData?: boolean;
}

/** The metadata key under which every architecture's build records the bundle's weightsSha256. */
const CHECKPOINT_SHA256_KEY = 'checkpoint_sha256';
const PENDING_SHA256 = '0'.repeat(64);

/** Emits the bundle in `bundleDir` to `outPath`: from its weights by its architecture, or its own graph as given. */
export async function emitBundle(bundleDir: string, outPath: string, options: EmitOptions = {}): Promise<EmitResult> {
  if ((await readBundleKind(bundleDir)) === 'graph') {
    return stageBroughtGraph(bundleDir, outPath, options.opset !== undefined ? { opset: options.opset } : {});
  }
  return emitFromWeights(bundleDir, outPath, options);
}

/**
 * Emits our graph from the bundle's weights file, whichever kind the bundle is: a weights bundle's
 * (emitBundle), or the checkpoint a graph bundle carries beside its model.onnx (the parity
 * diagnosis's baseline for the brought graph, activities/check-parity.ts).
 */
export async function emitFromWeights(
  bundleDir: string,
  outPath: string,
  options: EmitOptions = {},
): Promise<EmitResult> {
  const start = process.hrtime.bigint();
  const { bundle, weightsSha256 } = await openBundle(bundleDir);
  let built: BuiltGraph;
  let written: WrittenModel;
  try {
    // The graph records the checkpoint hash in metadata; the serializer fills in its value once known.
    built = bundle.architecture.checkWeights(bundle.weights).build(PENDING_SHA256, options);
    if (built.model.metadataProps[CHECKPOINT_SHA256_KEY] !== PENDING_SHA256) {
      throw new Error(`internal: the ${bundle.architecture.name} graph does not record '${CHECKPOINT_SHA256_KEY}'`);
    }
    if (!isDeepStrictEqual(graphSignature(built.model), bundle.architecture.signature())) {
      throw new Error(`internal: the ${bundle.architecture.name} graph's inputs and outputs differ from its signature`);
    }
    const metadata = weightsSha256.then((sha256) => ({ [CHECKPOINT_SHA256_KEY]: sha256 }));
    written = await writeModel(built.model, outPath, {
      externalData: options.externalData ? 'always' : 'auto',
      metadata,
    });
  } catch (err) {
    // A bad checkpoint (unreadable, NaN/Inf) is the error to report, as when it was checked first.
    await weightsSha256;
    throw err;
  }
  const { model, settings } = built;
  return {
    path: written.path,
    sha256: written.sha256,
    bytes: written.bytes,
    ...(written.externalData ? { externalData: written.externalData } : {}),
    source: 'emitted',
    opset: model.opset,
    producer: { name: model.producerName, version: model.producerVersion },
    architecture: bundle.architecture.name,
    settings,
    checkpointSha256: await weightsSha256,
    nodes: model.graph.nodes.length,
    initializers: model.graph.initializers.length,
    signature: graphSignature(model),
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
  };
}
