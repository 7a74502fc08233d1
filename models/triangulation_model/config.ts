/**
 * TriangulationModel's config schema: config.json carries no fields of its own (the factory builds
 * it with fixed widths, and `max_receivers` is not one of its constructor's arguments), so only the
 * envelope's `run_id` is kept. It must not read weights.
 */
import type { ConfigRefusal } from '../../checkpoint';
import type { ParsedEnvelope } from '../architecture';

/** config.json's `architecture`: the training service's model id. */
export const ARCHITECTURE = 'triangulation_model';

/** A type alias, not an interface, so it is a `Record<string, unknown>` where configs are handled generically. */
export type TriangulationModelConfig = {
  readonly architecture: typeof ARCHITECTURE;
  readonly runId?: string;
};

export const CONFIG_FIELDS: readonly string[] = [];

export function parseTriangulationModelConfig(
  _fields: Readonly<Record<string, unknown>>,
  envelope: ParsedEnvelope,
  _fail: ConfigRefusal,
): TriangulationModelConfig {
  return { architecture: ARCHITECTURE, ...(envelope.runId !== undefined ? { runId: envelope.runId } : {}) };
}
