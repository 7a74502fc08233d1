/**
 * What emission returns, whichever way the graph came: emitted from weights by an architecture, or
 * a bundle's own graph staged as it is. The emit stage turns it into the contract's EmittedGraph.
 */
import type { GraphSource } from '../common/export-contract';
import type { ModelSignature } from '../common/model-signature';

export interface EmitResult {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly externalData?: { readonly path: string; readonly sha256: string; readonly bytes: number };
  readonly source: GraphSource;
  readonly opset: number;
  /** The graph's own producer_name and producer_version. */
  readonly producer: { readonly name: string; readonly version: string };
  /** The architecture that emitted it (config.json's `architecture`); absent for a brought graph. */
  readonly architecture?: string;
  /** The architecture's settings as the graph's metadata records them; {} for a brought graph. */
  readonly settings: Readonly<Record<string, string>>;
  /** sha256 of the weights file the graph was emitted from, or of the brought model.onnx as given. */
  readonly checkpointSha256: string;
  readonly nodes: number;
  readonly initializers: number;
  /** The graph's inputs and outputs (-1 for a symbolic axis), as the MLmodel records them. */
  readonly signature: ModelSignature;
  readonly seconds: number;
}
