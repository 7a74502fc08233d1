/**
 * What kind of bundle a folder or an object-store prefix is, decided from its file names alone, and
 * which of its files belong to it. A bundle holds either weights to emit a graph from (`weights`:
 * config.json + model.safetensors, read by one of models/' architectures) or its own graph
 * (`graph`: model.onnx, taken as it is); both kinds carry reference.safetensors and may carry
 * calibration.safetensors. The client's upload, the worker's fetch and the loader all ask this
 * module, so the three cannot disagree.
 *
 * Pure: no I/O. A refusal is a value (the file to name and what is wrong with the bundle); callers
 * turn it into their own error with the path or URI they know. The files a graph names as external
 * data are not decided here (they are named by the graph, read by onnx/external-data.ts).
 */
import { REFERENCE_FILE } from '../common/export-contract';

export const BUNDLE_FILES = {
  config: 'config.json',
  weights: 'model.safetensors',
  /** A graph brought as it is, instead of weights (external data files it names come with it). */
  graph: 'model.onnx',
  reference: REFERENCE_FILE,
  /** Optional: int8 calibration inputs (every graph input, in the reference-case form); without it the reference inputs calibrate. */
  calibration: 'calibration.safetensors',
} as const;

export type BundleKind = 'weights' | 'graph';

/** The files each kind of bundle must have, in the order a missing one is reported. */
export const REQUIRED_FILES: Readonly<Record<BundleKind, readonly string[]>> = {
  weights: [BUNDLE_FILES.config, BUNDLE_FILES.weights, BUNDLE_FILES.reference],
  graph: [BUNDLE_FILES.graph, BUNDLE_FILES.reference],
};

/**
 * The files each kind may have: fetched and uploaded when present, never required. A graph bundle's
 * config.json is not among them: its graph is taken as it is, so there are no settings to read.
 */
export const OPTIONAL_FILES: Readonly<Record<BundleKind, readonly string[]>> = {
  weights: [BUNDLE_FILES.calibration],
  graph: [BUNDLE_FILES.calibration],
};

/** Names that hold weights: the one file a weights bundle is emitted from. */
const WEIGHTS_FILES: readonly string[] = [BUNDLE_FILES.weights];

export interface BundleLayout {
  readonly kind: BundleKind;
  /** The bundle's own files that are present: the required ones, then the optional ones found. */
  readonly files: readonly string[];
}

/** Why a set of names is not a bundle: the file to name, and what is wrong. */
export interface LayoutRefusal {
  readonly file: string;
  readonly problem: string;
}

export type LayoutVerdict = { readonly layout: BundleLayout } | { readonly refusal: LayoutRefusal };

const NEEDS =
  `a bundle needs ${REQUIRED_FILES.weights.join(', ')}; ` +
  `a bundle that brings its own graph needs ${REQUIRED_FILES.graph.join(', ')}`;

/**
 * The kind of a bundle whose top-level file names are `names`: `graph` when it has model.onnx, else
 * `weights` (so a folder with neither is told what a weights bundle needs first). model.onnx
 * together with weights is refused, naming both.
 */
export function bundleKind(
  names: Iterable<string>,
): { readonly kind: BundleKind } | { readonly refusal: LayoutRefusal } {
  const present = new Set(names);
  const weights = WEIGHTS_FILES.filter((f) => present.has(f));
  const hasGraph = present.has(BUNDLE_FILES.graph);
  if (hasGraph && weights.length > 0) {
    return {
      refusal: {
        file: BUNDLE_FILES.graph,
        problem:
          `the bundle has both ${BUNDLE_FILES.graph} and ${weights.join(', ')}: it holds either weights ` +
          `to emit a graph from or its own graph, not both (remove one)`,
      },
    };
  }
  return { kind: hasGraph ? 'graph' : 'weights' };
}

/**
 * The layout of a bundle the pipeline exports (upload, fetch): its kind, and every file that kind
 * needs, reference.safetensors included (parity needs it); the first missing one is refused.
 */
export function bundleLayout(names: Iterable<string>): LayoutVerdict {
  const present = new Set(names);
  const decided = bundleKind(present);
  if ('refusal' in decided) return decided;
  const { kind } = decided;
  const missing = REQUIRED_FILES[kind].find((f) => !present.has(f));
  if (missing !== undefined) {
    return { refusal: { file: missing, problem: `the checkpoint bundle has no ${missing} (${NEEDS})` } };
  }
  return {
    layout: { kind, files: [...REQUIRED_FILES[kind], ...OPTIONAL_FILES[kind].filter((f) => present.has(f))] },
  };
}

/** A bundle folder refused by its layout: the path of the file named, and the problem. */
export class BundleLayoutError extends Error {
  override readonly name = 'BundleLayoutError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}
