/**
 * The one list of architectures: config.json's `architecture` picks one of these, and nothing else
 * in the pipeline names an architecture. Adding one is a folder `models/<architecture>/` whose
 * index.ts ends with its descriptor (models/architecture.ts), plus its line here
 * (docs/architecture.md, "Adding an architecture").
 */
import { configEnvelope, configRefusal, parseRunId } from '../checkpoint';
import type { Architecture, Configured } from './architecture';
import { heimdallNet } from './heimdall_net';
import { localizationNet } from './localizationnet';

export const ARCHITECTURES = [localizationNet, heimdallNet] as const satisfies readonly Architecture[];

export type KnownArchitecture = (typeof ARCHITECTURES)[number];
/** The config type of any listed architecture (a union, one member per architecture). */
export type ArchitectureConfig = ReturnType<KnownArchitecture['configure']>['config'];

export function architectureNames(): string[] {
  return ARCHITECTURES.map((a) => a.name);
}

/** `"LocalizationNet"`, or `"A" or "B"` once there are several: what config.json's `architecture` may be. */
export function knownNames(): string {
  return architectureNames()
    .map((n) => JSON.stringify(n))
    .join(' or ');
}

/**
 * Reads a parsed config.json with the architecture it names, in this order: the envelope (a JSON
 * object), `architecture` (an unknown one is refused naming the field and the known names), no
 * field the architecture does not read (refused with the ones it does listed), `run_id`, then the
 * architecture's own check of its fields.
 */
export function configureArchitecture(json: unknown, file: string): Configured<ArchitectureConfig> {
  const fail = configRefusal(file);
  const { architecture, runId, fields } = configEnvelope(json, file);
  const found = ARCHITECTURES.find((a) => a.name === architecture);
  if (found === undefined) return fail('architecture', knownNames(), architecture);
  const known = ['architecture', ...found.configFields, 'run_id'];
  for (const key of Object.keys(fields)) {
    if (!known.includes(key)) fail(key, `no unknown fields (known: ${known.join(', ')})`, key);
  }
  const parsedRunId = parseRunId(runId, file);
  return found.configure(
    fields,
    { architecture: found.name, ...(parsedRunId !== undefined ? { runId: parsedRunId } : {}) },
    file,
  );
}
