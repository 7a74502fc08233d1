/**
 * HeimdallNet's config schema: the two settings the training service's factory takes that change the
 * state_dict, `max_receivers` (R) and `use_calibration`. Both are facts of the weights (weights.ts
 * reads them there); config.json may state them, and then they are checked against the weights. Pure:
 * it reads the parsed fields only and knows nothing about tensors.
 */
import type { ConfigRefusal } from '../../checkpoint';
import type { ParsedEnvelope } from '../architecture';

export const ARCHITECTURE_NAME = 'heimdall_net';

/** A type alias, not an interface, so it is a `Record<string, unknown>` where configs are handled generically. */
export type HeimdallNetConfig = {
  readonly architecture: typeof ARCHITECTURE_NAME;
  /** config.json's `max_receivers`, when given: must equal the weights' R. */
  readonly maxReceivers?: number;
  /** config.json's `use_calibration`, when given: must match whether the weights have calibration layers. */
  readonly useCalibration?: boolean;
  readonly runId?: string;
};

/** The fields heimdall_net reads beside `architecture` and `run_id`, in the order messages list them. */
export const CONFIG_FIELDS = ['max_receivers', 'use_calibration'];

export function parseHeimdallNetConfig(
  c: Readonly<Record<string, unknown>>,
  envelope: ParsedEnvelope,
  fail: ConfigRefusal,
): HeimdallNetConfig {
  const r = c.max_receivers;
  if (r !== undefined && !(Number.isSafeInteger(r) && (r as number) >= 1)) {
    fail('max_receivers', 'a positive integer (R: rows of receiver_encoder.receiver_embeddings.weight) or absent', r);
  }
  const calibration = c.use_calibration;
  if (calibration !== undefined && typeof calibration !== 'boolean') {
    fail('use_calibration', 'true, false or absent', calibration);
  }
  return {
    architecture: ARCHITECTURE_NAME,
    ...(r !== undefined ? { maxReceivers: r as number } : {}),
    ...(calibration !== undefined ? { useCalibration: calibration } : {}),
    ...(envelope.runId !== undefined ? { runId: envelope.runId } : {}),
  };
}
