/**
 * Emission: bundle directory → checked weights → LocalizationNet graph → ONNX file, with the file's
 * sha256 as its identity. The same bundle and options give the same bytes. It must not validate
 * the written model (onnx/checker) nor run it (parity/).
 */
import { loadBundle } from '../checkpoint';
import type { WrittenModel } from '../onnx/serialize';
import { writeModel } from '../onnx/serialize';
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
  readonly backbone: string;
  readonly depths: readonly number[];
  readonly dims: readonly number[];
  readonly checkpointSha256: string;
  readonly nodes: number;
  readonly initializers: number;
  readonly seconds: number;
}

export async function emitLocalizationNet(bundleDir: string, outPath: string, options: EmitOptions = {}): Promise<EmitResult> {
  const start = process.hrtime.bigint();
  const bundle = await loadBundle(bundleDir);
  const { model, layout } = buildLocalizationNet(bundle, options);
  const written: WrittenModel = await writeModel(model, outPath, { externalData: options.externalData ? 'always' : 'auto' });
  return {
    path: written.path,
    sha256: written.sha256,
    bytes: written.bytes,
    ...(written.externalData ? { externalData: written.externalData } : {}),
    opset: model.opset,
    backbone: bundle.config.backbone,
    depths: layout.depths,
    dims: layout.dims,
    checkpointSha256: bundle.weightsSha256,
    nodes: model.graph.nodes.length,
    initializers: model.graph.initializers.length,
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
  };
}
