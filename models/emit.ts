/**
 * Emission: bundle directory → checked weights → LocalizationNet graph → ONNX file, with the file's
 * sha256 as its identity. The same bundle and options give the same bytes. The weights' hash and
 * NaN/Inf check (a worker thread) run while the model is written: the checkpoint hash is only needed
 * for metadata_props, which come after the graph, and a non-finite weight aborts the write (nothing
 * is renamed into place) with the same CheckpointError loadBundle gives. It must not validate the
 * written model (onnx/checker) nor run it (parity/).
 */
import { openBundle } from '../checkpoint';
import type { ModelSignature } from '../common/export-contract';
import { graphSignature } from '../onnx/graph-signature';
import type { WrittenModel } from '../onnx/write-model';
import { writeModel } from '../onnx/write-model';
import { buildLocalizationNet, type BuildOptions } from './localizationnet-graph';

export interface EmitOptions extends BuildOptions {
  /** Write initializers to a `<model>.data` sidecar even when the model is under 2 GB. */
  readonly externalData?: boolean;
}

export interface EmitResult {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly externalData?: { readonly path: string; readonly sha256: string; readonly bytes: number };
  readonly opset: number;
  readonly producer: { readonly name: string; readonly version: string };
  readonly architecture: string;
  /** The architecture's settings as the graph's metadata records them. */
  readonly settings: Readonly<Record<string, string>>;
  readonly backbone: string;
  readonly depths: readonly number[];
  readonly dims: readonly number[];
  readonly checkpointSha256: string;
  readonly nodes: number;
  readonly initializers: number;
  /** The graph's inputs and outputs (-1 for the batch axis), as the MLmodel records them. */
  readonly signature: ModelSignature;
  readonly seconds: number;
}

/** The metadata key under which buildLocalizationNet records the bundle's weightsSha256. */
const CHECKPOINT_SHA256_KEY = 'checkpoint_sha256';
const PENDING_SHA256 = '0'.repeat(64);

export async function emitLocalizationNet(
  bundleDir: string,
  outPath: string,
  options: EmitOptions = {},
): Promise<EmitResult> {
  const start = process.hrtime.bigint();
  const { bundle: opened, weightsSha256 } = await openBundle(bundleDir);
  // The graph records the checkpoint hash in metadata; the serializer fills in its value once known.
  const bundle = { ...opened, weightsSha256: PENDING_SHA256 };
  let built: ReturnType<typeof buildLocalizationNet>;
  let written: WrittenModel;
  try {
    built = buildLocalizationNet(bundle, options);
    if (built.model.metadataProps[CHECKPOINT_SHA256_KEY] !== PENDING_SHA256) {
      throw new Error(`internal: the graph does not record '${CHECKPOINT_SHA256_KEY}'`);
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
  const { model, layout } = built;
  const checkpointSha256 = await weightsSha256;
  return {
    path: written.path,
    sha256: written.sha256,
    bytes: written.bytes,
    ...(written.externalData ? { externalData: written.externalData } : {}),
    opset: model.opset,
    producer: { name: model.producerName, version: model.producerVersion },
    architecture: bundle.config.architecture,
    settings: {
      backbone: bundle.config.backbone,
      depths: JSON.stringify(layout.depths),
      dims: JSON.stringify(layout.dims),
    },
    backbone: bundle.config.backbone,
    depths: layout.depths,
    dims: layout.dims,
    checkpointSha256,
    nodes: model.graph.nodes.length,
    initializers: model.graph.initializers.length,
    signature: graphSignature(model),
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
  };
}
