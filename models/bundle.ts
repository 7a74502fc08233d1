/**
 * The loader of a local bundle folder: which kind it is (checkpoint/bundle-layout.ts), and for a
 * weights bundle (or the checkpoint a graph bundle carries) its weights file (model.safetensors or
 * one torch checkpoint) opened, its config read
 * by the architecture it names (models/architectures.ts) from config.json or, for a checkpoint
 * without one, from the checkpoint's own settings (checkpoint-config.ts), and the weights' hash and
 * NaN/Inf check started in the background. It must not check the weights against the architecture
 * (the architecture's weight check does, when emitting) nor fetch from the object store (callers
 * stage the bundle locally first).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BUNDLE_FILES,
  BundleLayoutError,
  CheckpointError,
  bundleKind,
  isTorchCheckpoint,
  openWeightsFile,
  readConfigJson,
  verifyWeights,
  weightsFileOf,
  type BundleKind,
  type CheckpointSettings,
  type OpenWeightsOptions,
  type WeightsFile,
} from '../checkpoint';
import type { Configured } from './architecture';
import { configureArchitecture, type ArchitectureConfig } from './architectures';
import { ARCHITECTURE_SETTING, checkAgreement, checkpointConfig } from './checkpoint-config';

/** A weights bundle: the architecture its config names, with that config, and the opened weights. */
export interface Bundle {
  readonly dir: string;
  readonly architecture: Configured<ArchitectureConfig>;
  readonly config: ArchitectureConfig;
  /** model.safetensors or the torch checkpoint's state dict. */
  readonly weights: WeightsFile;
  /** sha256 (hex) of the weights file: the checkpoint's identity in metadata and reports. */
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

/** The kind of the bundle in `dir` from its file names; two weights files are refused naming both. */
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
  const names = await readdir(dir);
  const found = weightsFileOf(names);
  if ('refusal' in found) throw new BundleLayoutError(join(dir, found.refusal.file), found.refusal.problem);
  const configPath = join(dir, BUNDLE_FILES.config);
  const weightsPath = join(dir, found.name);
  let architecture: Configured<ArchitectureConfig>;
  let opened: Awaited<ReturnType<typeof openWeightsFile>>;
  if (isTorchCheckpoint(found.name)) {
    const json = names.includes(BUNDLE_FILES.config) ? await readConfigJson(configPath) : undefined;
    opened = await openWeightsFile(weightsPath);
    architecture = configureCheckpointBundle(json, configPath, opened.settings, weightsPath);
  } else {
    architecture = configureArchitecture(await readConfigJson(configPath), configPath);
    opened = await openWeightsFile(weightsPath);
  }
  return {
    bundle: {
      dir,
      architecture,
      config: architecture.config,
      weights: opened.weights,
      referencePath: join(dir, BUNDLE_FILES.reference),
    },
    weightsSha256: verifyWeights(opened.weights, options),
  };
}

/** A checkpoint bundle's config: config.json (agreeing with the checkpoint), else the checkpoint's settings. */
function configureCheckpointBundle(
  json: unknown,
  configPath: string,
  settings: CheckpointSettings | undefined,
  weightsPath: string,
): Configured<ArchitectureConfig> {
  const fromCheckpoint = settings ? checkpointConfig(settings, weightsPath) : undefined;
  if (json !== undefined) {
    if (fromCheckpoint && settings) checkAgreement(json, configPath, fromCheckpoint, settings, weightsPath);
    return configureArchitecture(json, configPath);
  }
  if (fromCheckpoint === undefined || settings === undefined) {
    throw new CheckpointError(
      {
        file: configPath,
        subject: 'file',
        expected: `config.json, or a checkpoint whose config (or hyper_parameters) has ${ARCHITECTURE_SETTING}`,
        actual: settings ? `${settings.source} without ${ARCHITECTURE_SETTING}` : 'a checkpoint without settings',
      },
      'the bundle names no architecture',
    );
  }
  return configureArchitecture(fromCheckpoint, `${weightsPath}: ${settings.source}`);
}

export async function loadBundle(dir: string, options: LoadBundleOptions = {}): Promise<Bundle> {
  const { bundle, weightsSha256 } = await openBundle(dir, options);
  return { ...bundle, weightsSha256: await weightsSha256 };
}
