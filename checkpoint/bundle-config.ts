/**
 * config.json as every architecture shares it (shared/DESIGN.md, "Contracts"): a JSON object with
 * `architecture` (which of models/' architectures reads the rest), that architecture's own fields,
 * and an optional `run_id`. Here only the envelope is checked; the architecture's fields are its
 * own config schema (models/<architecture>/). Pure but for reading the file; it knows no
 * architecture and nothing about weights.
 */
import { readFile } from 'node:fs/promises';
import { CheckpointError } from './checkpoint-error';

/** What every config.json has, whatever its architecture. */
export interface BundleConfig {
  /** config.json's `architecture`: the plug-in that emits the graph. */
  readonly architecture: string;
  /** Training run id, when the training side records it. */
  readonly runId?: string;
}

/** A config.json's fields, split: the envelope's two and the architecture's own (snake_case, as written). */
export interface ConfigEnvelope {
  /** `architecture` as written (not yet checked against the known names). */
  readonly architecture: unknown;
  /** `run_id` as written. */
  readonly runId: unknown;
  /** Every other field: the architecture's to read. */
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Refuses a config field: `<file>: <field>: expected …, got <JSON of the value>`. */
export type ConfigRefusal = (subject: string, expected: string, actual: unknown) => never;

export function configRefusal(file: string): ConfigRefusal {
  return (subject, expected, actual) => {
    throw new CheckpointError({ file, subject, expected, actual: JSON.stringify(actual) ?? 'undefined' });
  };
}

/** The envelope of a parsed config.json: a JSON object, split into architecture, run_id and the rest. */
export function configEnvelope(json: unknown, file: string): ConfigEnvelope {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    configRefusal(file)('config', 'a JSON object', json);
  const { architecture, run_id: runId, ...fields } = json as Record<string, unknown>;
  return { architecture, runId, fields };
}

/** `run_id`: absent, or a string. */
export function parseRunId(runId: unknown, file: string): string | undefined {
  if (runId !== undefined && typeof runId !== 'string') configRefusal(file)('run_id', 'a string', runId);
  return runId as string | undefined;
}

/** Reads and parses config.json; a missing file or invalid JSON is refused naming the file. */
export async function readConfigJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CheckpointError({
      file: path,
      subject: 'file',
      expected: 'a readable config.json',
      actual: (err as NodeJS.ErrnoException).code ?? String(err),
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CheckpointError(
      { file: path, subject: 'config', expected: 'JSON', actual: 'invalid JSON' },
      (err as Error).message,
    );
  }
}

/** A positive-integer array field (`depths`, `input_shape`), or the refusal naming it. */
export function positiveInts(v: unknown, field: string, fail: ConfigRefusal): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isSafeInteger(x) && (x as number) > 0)) {
    return fail(field, 'a non-empty array of positive integers', v);
  }
  return v as number[];
}

/** A finite-number field, or the refusal naming it. */
export function finiteNumber(v: unknown, field: string, fail: ConfigRefusal): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return fail(field, 'a finite number', v);
  return v;
}
