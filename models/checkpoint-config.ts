/**
 * config.json's form from a torch checkpoint's own settings, so a bundle of a bare `.pth` (the
 * training service's `best_model.pth`) needs no config.json: `model_architecture` becomes
 * `architecture` (the training service's model ids are the architectures' names), and every field the
 * architecture reads (e.g. `max_receivers`) is taken as the checkpoint's `config` (or Lightning's
 * `hyper_parameters`) has it. The training job's other settings (batch size, learning rate, …) are
 * not read.
 *
 * When the bundle also has config.json, config.json is the config (as for model.safetensors, so a
 * bundle reads the same whichever weights file it holds), and the checkpoint must agree with it on
 * every field both name: a stale or mismatched config.json beside a checkpoint is refused naming
 * both, rather than one silently winning. It must not read files or check weights.
 */
import { basename } from 'node:path';
import { CheckpointError, type CheckpointSettings, type JsonValue } from '../checkpoint';
import { ARCHITECTURES, knownNames } from './architectures';

/** The checkpoint field that names the architecture, as the training service writes it. */
export const ARCHITECTURE_SETTING = 'model_architecture';

/** config.json's form of the checkpoint's settings, or undefined when they name no architecture. */
export function checkpointConfig(
  settings: CheckpointSettings,
  weightsPath: string,
): Record<string, JsonValue> | undefined {
  const architecture = settings.get(ARCHITECTURE_SETTING);
  if (architecture === undefined) return undefined;
  const found = ARCHITECTURES.find((a) => a.name === architecture);
  if (found === undefined) {
    throw new CheckpointError({
      file: weightsPath,
      subject: `${settings.source}.${ARCHITECTURE_SETTING}`,
      expected: knownNames(),
      actual: JSON.stringify(architecture),
    });
  }
  const config: Record<string, JsonValue> = { architecture: found.name };
  for (const field of found.configFields) {
    const value = settings.get(field);
    if (value !== undefined) config[field] = value;
  }
  return config;
}

/** Where a field of config.json's form came from in the checkpoint, for messages. */
function settingName(field: string, settings: CheckpointSettings): string {
  return `${settings.source}.${field === 'architecture' ? ARCHITECTURE_SETTING : field}`;
}

/** Refuses a config.json that disagrees with the checkpoint's settings on any field both have. */
export function checkAgreement(
  json: unknown,
  configPath: string,
  fromCheckpoint: Readonly<Record<string, JsonValue>>,
  settings: CheckpointSettings,
  weightsPath: string,
): void {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return; // config.json's own check refuses it
  const written = json as Record<string, unknown>;
  for (const [field, value] of Object.entries(fromCheckpoint)) {
    if (!(field in written) || JSON.stringify(written[field]) === JSON.stringify(value)) continue;
    throw new CheckpointError(
      {
        file: configPath,
        subject: field,
        expected: `${JSON.stringify(value)} (${basename(weightsPath)}'s ${settingName(field, settings)})`,
        actual: JSON.stringify(written[field]),
      },
      `config.json and ${basename(weightsPath)} disagree`,
    );
  }
}
