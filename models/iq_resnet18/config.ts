/**
 * IQResNet18's config schema: `max_receivers` and `iq_sequence_length` may be present (the factory
 * passes them to the constructor, which keeps them as plain attributes that forward never reads);
 * both are optional positive integers, recorded in the graph's metadata and unused by it. Nothing is
 * required. It must not read weights.
 */
import type { ConfigRefusal } from '../../checkpoint';
import type { ParsedEnvelope } from '../architecture';

/** config.json's `architecture`: the training service's model id. */
export const ARCHITECTURE = 'iq_resnet18';

/** A type alias, not an interface, so it is a `Record<string, unknown>` where configs are handled generically. */
export type IqResNet18Config = {
  readonly architecture: typeof ARCHITECTURE;
  /** Recorded only: the graph takes any receiver count. */
  readonly maxReceivers?: number;
  /** Recorded only: the graph takes any IQ length. */
  readonly iqSequenceLength?: number;
  readonly runId?: string;
};

export const CONFIG_FIELDS: readonly string[] = ['max_receivers', 'iq_sequence_length'];

function optionalPositiveInt(v: unknown, field: string, fail: ConfigRefusal): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || (v as number) < 1) return fail(field, 'a positive integer or absent', v);
  return v as number;
}

export function parseIqResNet18Config(
  fields: Readonly<Record<string, unknown>>,
  envelope: ParsedEnvelope,
  fail: ConfigRefusal,
): IqResNet18Config {
  const maxReceivers = optionalPositiveInt(fields.max_receivers, 'max_receivers', fail);
  const iqSequenceLength = optionalPositiveInt(fields.iq_sequence_length, 'iq_sequence_length', fail);
  return {
    architecture: ARCHITECTURE,
    ...(maxReceivers !== undefined ? { maxReceivers } : {}),
    ...(iqSequenceLength !== undefined ? { iqSequenceLength } : {}),
    ...(envelope.runId !== undefined ? { runId: envelope.runId } : {}),
  };
}

/** What a config records beside the graph, as graph metadata and emission settings (strings). */
export function recordedSettings(config: IqResNet18Config): Record<string, string> {
  return {
    ...(config.maxReceivers !== undefined ? { max_receivers: String(config.maxReceivers) } : {}),
    ...(config.iqSequenceLength !== undefined ? { iq_sequence_length: String(config.iqSequenceLength) } : {}),
  };
}
