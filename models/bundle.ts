/**
 * The loader of a local bundle folder: which kind it is (checkpoint/bundle-layout.ts), and for a
 * weights bundle its config read by the architecture it names (models/architectures.ts) and its
 * weights opened (header now, hash and NaN/Inf check in the background). It must not check the
 * weights against the architecture (the architecture's weight check does, when emitting) nor fetch
 * from the object store (callers stage the bundle locally first).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BUNDLE_FILES,
  BundleLayoutError,
  bundleKind,
  openWeights,
  readConfigJson,
  type BundleKind,
  type OpenWeightsOptions,
  type SafetensorsFile,
} from '../checkpoint';
import type { Configured } from './architecture';
import { configureArchitecture, type ArchitectureConfig } from './architectures';

/** A weights bundle: the architecture its config names, with that config, and the opened weights. */
export interface Bundle {
  readonly dir: string;
  readonly architecture: Configured<ArchitectureConfig>;
  readonly config: ArchitectureConfig;
  readonly weights: SafetensorsFile;
  /** sha256 (hex) of model.safetensors: the checkpoint's identity in metadata and reports. */
  readonly weightsSha256: string;
  readonly referencePath: string;
}

export type LoadBundleOptions = OpenWeightsOptions;

/** A bundle whose weights are still being hashed and checked. */
export interface OpenedBundle {
  readonly bundle: Omit<Bundle, 'weightsSha256'>;
  /** As OpenedWeights' (rejects with the CheckpointError naming the first non-finite tensor). */
  readonly weightsSha256: Promise<string>;
}

/** The kind of the bundle in `dir` from its file names; model.onnx beside weights is refused naming both. */
export async function readBundleKind(dir: string): Promise<BundleKind> {
  const decided = bundleKind(await readdir(dir));
  if ('refusal' in decided) throw new BundleLayoutError(join(dir, decided.refusal.file), decided.refusal.problem);
  return decided.kind;
}

/** Reads config.json with the architecture it names; an unknown field or architecture is refused naming it. */
export function parseBundleConfig(json: unknown, file: string): ArchitectureConfig {
  return configureArchitecture(json, file).config;
}

/** Reads the config and the weights' header now; hashes and scans the weights in the background. */
export async function openBundle(dir: string, options: LoadBundleOptions = {}): Promise<OpenedBundle> {
  const file = join(dir, BUNDLE_FILES.config);
  const architecture = configureArchitecture(await readConfigJson(file), file);
  const { weights, weightsSha256 } = await openWeights(join(dir, BUNDLE_FILES.weights), options);
  return {
    bundle: {
      dir,
      architecture,
      config: architecture.config,
      weights,
      referencePath: join(dir, BUNDLE_FILES.reference),
    },
    weightsSha256,
  };
}

export async function loadBundle(dir: string, options: LoadBundleOptions = {}): Promise<Bundle> {
  const { bundle, weightsSha256 } = await openBundle(dir, options);
  return { ...bundle, weightsSha256: await weightsSha256 };
}
