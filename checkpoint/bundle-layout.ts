/**
 * What kind of bundle a folder or an object-store prefix is, decided from its file names alone, and
 * which of its files belong to it. A bundle holds either weights to emit a graph from (`weights`:
 * one weights file, model.safetensors with its config.json, or a torch checkpoint `*.pth`, `*.pt`,
 * `*.ckpt` whose own settings may stand for config.json; read by one of models/' architectures) or
 * its own graph (`graph`: model.onnx, taken as it is); both kinds carry reference.safetensors and may
 * carry calibration.safetensors. A graph bundle may also carry the training checkpoint its graph was
 * exported from (one weights file, with config.json when present): the brought graph is still what
 * is validated and published; the checkpoint is only the parity diagnosis's baseline (our own graph
 * emitted from it). Two weights files are refused, naming both. The client's upload, the worker's
 * fetch and the loader all ask this module, so the three cannot disagree.
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

/**
 * The files each kind of bundle must have, in the order a missing one is reported. A weights bundle's
 * model.safetensors may be a torch checkpoint instead, and then config.json is optional (weightsFiles).
 */
export const REQUIRED_FILES: Readonly<Record<BundleKind, readonly string[]>> = {
  weights: [BUNDLE_FILES.config, BUNDLE_FILES.weights, BUNDLE_FILES.reference],
  graph: [BUNDLE_FILES.graph, BUNDLE_FILES.reference],
};

/** File name endings of the torch.save checkpoints a weights bundle may hold instead of model.safetensors. */
export const TORCH_CHECKPOINT_EXTENSIONS: readonly string[] = ['.pth', '.pt', '.ckpt'];

/**
 * The files each kind may have: fetched and uploaded when present, never required. A graph bundle's
 * config.json is not among them: its graph is taken as it is, so there are no settings to read (its
 * checkpoint's config.json, when it carries one, comes with the checkpoint: bundleLayout).
 */
export const OPTIONAL_FILES: Readonly<Record<BundleKind, readonly string[]>> = {
  weights: [BUNDLE_FILES.calibration],
  graph: [BUNDLE_FILES.calibration],
};

/** A torch.save checkpoint, by its name (`best_model.pth`, `last.ckpt`). */
export function isTorchCheckpoint(name: string): boolean {
  return TORCH_CHECKPOINT_EXTENSIONS.some((ext) => name.endsWith(ext) && name.length > ext.length);
}

/** Names among `names` that hold weights: model.safetensors and torch checkpoints, sorted. */
function weightsFiles(names: ReadonlySet<string>): string[] {
  return [...names].filter((n) => n === BUNDLE_FILES.weights || isTorchCheckpoint(n)).sort();
}

export interface BundleLayout {
  readonly kind: BundleKind;
  /** The bundle's own files that are present: the required ones, then the optional ones found. */
  readonly files: readonly string[];
  /**
   * A graph bundle's training checkpoint (its one weights file), when it carries one: not exported,
   * only emitted from as the parity diagnosis's baseline. Its config.json, when present, is in `files`.
   */
  readonly checkpoint?: string;
}

/** Why a set of names is not a bundle: the file to name, and what is wrong. */
export interface LayoutRefusal {
  readonly file: string;
  readonly problem: string;
}

export type LayoutVerdict = { readonly layout: BundleLayout } | { readonly refusal: LayoutRefusal };

const NEEDS =
  `a bundle needs ${REQUIRED_FILES.weights.join(', ')} (or, for ${BUNDLE_FILES.weights}, one torch checkpoint ` +
  `${TORCH_CHECKPOINT_EXTENSIONS.map((e) => `*${e}`).join(', ')}, with ${BUNDLE_FILES.config} optional); ` +
  `a bundle that brings its own graph needs ${REQUIRED_FILES.graph.join(', ')}`;

/**
 * The kind of a bundle whose top-level file names are `names`: `graph` when it has model.onnx (with
 * or without the checkpoint it was exported from), else `weights` (so a folder with neither is told
 * what a weights bundle needs first). Two weights files are refused, naming both.
 */
export function bundleKind(
  names: Iterable<string>,
): { readonly kind: BundleKind } | { readonly refusal: LayoutRefusal } {
  const present = new Set(names);
  const weights = weightsFiles(present);
  const hasGraph = present.has(BUNDLE_FILES.graph);
  if (weights.length > 1) {
    return {
      refusal: {
        file: weights[1] as string,
        problem:
          `the bundle has ${weights.length} weights files, ${weights.join(' and ')}: ` +
          `a graph is emitted from one (remove the others)` +
          (hasGraph ? `; beside ${BUNDLE_FILES.graph}, one is the checkpoint it was exported from` : ''),
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
  const checkpoint = kind === 'weights' ? weightsFiles(present).find(isTorchCheckpoint) : undefined;
  const required = checkpoint !== undefined ? checkpointBundleFiles(checkpoint, present) : REQUIRED_FILES[kind];
  const missing = required.find((f) => !present.has(f));
  if (missing !== undefined) {
    return { refusal: { file: missing, problem: `the checkpoint bundle has no ${missing} (${NEEDS})` } };
  }
  const optional = OPTIONAL_FILES[kind].filter((f) => present.has(f));
  const [carried] = kind === 'graph' ? weightsFiles(present) : [];
  if (carried === undefined) return { layout: { kind, files: [...required, ...optional] } };
  const config = present.has(BUNDLE_FILES.config) ? [BUNDLE_FILES.config] : [];
  return { layout: { kind, files: [...required, ...config, carried, ...optional], checkpoint: carried } };
}

/**
 * What a bundle of a torch checkpoint must have: the checkpoint and the reference; its config.json is
 * the bundle's only when present (the checkpoint's settings may stand for it).
 */
function checkpointBundleFiles(checkpoint: string, present: ReadonlySet<string>): string[] {
  return [...(present.has(BUNDLE_FILES.config) ? [BUNDLE_FILES.config] : []), checkpoint, BUNDLE_FILES.reference];
}

/**
 * The weights file of a bundle with these file names (model.safetensors or its one torch checkpoint;
 * for a graph bundle, the checkpoint it carries), or the refusal naming what is missing or what is
 * one too many.
 */
export function weightsFileOf(
  names: Iterable<string>,
): { readonly name: string } | { readonly refusal: LayoutRefusal } {
  const present = new Set(names);
  const decided = bundleKind(present);
  if ('refusal' in decided) return decided;
  const [name] = weightsFiles(present);
  if (name === undefined) {
    return {
      refusal: { file: BUNDLE_FILES.weights, problem: `the checkpoint bundle has no weights file (${NEEDS})` },
    };
  }
  return { name };
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
