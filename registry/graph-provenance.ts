/**
 * What a registered version and its MLflow model directory record about where the graph came from:
 * `emitted` (from a checkpoint by one of our architectures) or `brought` (the bundle's own
 * model.onnx, taken as it is), and the graph's own producer name and version. The same three keys
 * are version tags and MLmodel metadata, so a consumer finds them either way. Pure.
 */
import type { GraphSource } from '../common/export-contract';
import { RegistryInputError } from './registry-error';

export interface GraphProvenance {
  source: GraphSource;
  /** The graph's producer_name and producer_version, as written in it ('' when it records none). */
  producer: { name: string; version: string };
}

/** The keys, as tags and as MLmodel metadata. */
export const PROVENANCE_KEYS = {
  source: 'graph_source',
  producer: 'graph_producer',
  producerVersion: 'graph_producer_version',
} as const;

const GRAPH_SOURCES: readonly GraphSource[] = ['emitted', 'brought'];
/** The longest producer name or version recorded (MLflow takes 5000; a producer is a short name). */
const PRODUCER_MAX_CHARS = 256;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** Refuses a provenance the registry cannot record, naming the field. */
export function validateProvenance(p: GraphProvenance): void {
  if (!GRAPH_SOURCES.includes(p.source))
    throw new RegistryInputError('provenance.source', String(p.source), GRAPH_SOURCES.join(' or '));
  for (const [field, v] of [
    ['provenance.producer.name', p.producer?.name],
    ['provenance.producer.version', p.producer?.version],
  ] as const) {
    if (typeof v !== 'string' || v.length > PRODUCER_MAX_CHARS || CONTROL_CHARACTERS.test(v))
      throw new RegistryInputError(
        field,
        String(v).slice(0, 80),
        `a string of at most ${PRODUCER_MAX_CHARS} characters without control characters`,
      );
  }
}

/** The provenance as key → value, leaving out a producer field the graph does not record. */
export function provenanceEntries(p: GraphProvenance): Record<string, string> {
  return {
    [PROVENANCE_KEYS.source]: p.source,
    ...(p.producer.name ? { [PROVENANCE_KEYS.producer]: p.producer.name } : {}),
    ...(p.producer.version ? { [PROVENANCE_KEYS.producerVersion]: p.producer.version } : {}),
  };
}
