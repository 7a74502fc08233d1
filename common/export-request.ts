/**
 * The export request's schema: the one definition of what `exportModel` accepts. The TypeScript
 * type, the checks the starter and the workflow run, and docs/export-request.schema.json (for Python
 * and Go callers) all come from it.
 *
 * zod (v4), because it runs unchanged inside Temporal's workflow sandbox (pure JavaScript, no eval
 * with `jitless`), derives the type, and writes JSON Schema itself; TypeBox would give the JSON
 * Schema first but its type-safe checks of refinements and its error texts are weaker, and
 * valibot needs a separate package for JSON Schema. Every pattern here is also a valid Go (RE2)
 * regular expression (no lookarounds), so Go's JSON Schema validators read the generated file too.
 *
 * Imported by workflow code: pure functions and data only, no I/O.
 */
import { z } from 'zod';
import {
  ALIAS_RULE,
  DEFAULT_OPSET,
  DEFAULT_TOLERANCES,
  MAX_EMIT_OPSET,
  MIN_EMIT_OPSET,
  MODEL_NAME_RULE,
  RESERVED_ALIAS,
  RUN_ID_RULE,
  type NameRule,
} from './export-contract';

z.config({ jitless: true });

/** Durations in the subset of Temporal's duration strings every SDK reads the same way. */
const DURATION_PATTERN = /^([0-9]+(?:\.[0-9]+)?) ?(ms|milliseconds?|s|seconds?|m|minutes?|h|hours?)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** How long the GPU benchmark may wait for a GPU worker: at least a second, at most a day. */
export const GPU_WAIT_BOUNDS_MS = { min: 1000, max: 86_400_000 } as const;

/** Milliseconds of a duration string in DURATION_PATTERN's form; undefined for anything else. */
export function durationMs(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  if (!m) return undefined;
  const unit = m[2] as string;
  const scale = unit.startsWith('ms') || unit.startsWith('milli') ? 1 : (UNIT_MS[unit[0] as string] as number);
  return Number(m[1]) * scale;
}

const expecting = (expected: string) => ({ error: `expected ${expected}` });

function integer(min: number, max: number, what: string) {
  const expected = `${what}: an integer from ${min} to ${max}`;
  return z.int(expecting(expected)).min(min, expecting(expected)).max(max, expecting(expected)).describe(expected);
}

function tolerance(what: string) {
  const expected = `${what}: a positive number at most 1`;
  return z.number(expecting(expected)).positive(expecting(expected)).max(1, expecting(expected)).describe(expected);
}

function named(rule: NameRule, what: string) {
  return z
    .string(expecting(rule.expected))
    .max(rule.maxLength, expecting(rule.expected))
    .regex(rule.pattern, expecting(rule.expected))
    .describe(`${what}: ${rule.expected}`);
}

const gpuWait = `how long the GPU benchmark waits for a GPU worker that polls, from 1 second to 24 hours, e.g. '30 seconds', '10m' (default 10 minutes)`;

const benchmarkSchema = z
  .strictObject(
    {
      batchSizes: z
        .array(integer(1, 1024, 'a batch size'), expecting('a list of 1 to 8 batch sizes, integers from 1 to 1024'))
        .min(1, expecting('a list of 1 to 8 batch sizes, integers from 1 to 1024'))
        .max(8, expecting('a list of 1 to 8 batch sizes, integers from 1 to 1024'))
        .describe('Batch sizes to time, in order; the first is the one the registry records (default [1, 32]).')
        .optional(),
      threads: integer(1, 256, 'intra-op threads').optional(),
      maxRuns: integer(1, 100_000, 'measured runs per batch size at most').optional(),
      timeBudgetMs: integer(100, 3_600_000, 'time budget per batch size in milliseconds (a cap)').optional(),
      gpu: z
        .boolean(expecting('true or false'))
        .describe('false: no GPU benchmark; otherwise it runs where a GPU worker polls')
        .optional(),
      gpuScheduleToStartTimeout: z
        .string(expecting(gpuWait))
        .regex(DURATION_PATTERN, expecting(gpuWait))
        .refine((text) => {
          const ms = durationMs(text);
          return ms !== undefined && ms >= GPU_WAIT_BOUNDS_MS.min && ms <= GPU_WAIT_BOUNDS_MS.max;
        }, expecting(gpuWait))
        .describe(gpuWait)
        .optional(),
    },
    expecting('an object of benchmark settings'),
  )
  .describe('Latency benchmark settings.');

const aliasExpected = `${ALIAS_RULE.expected}; '' for none (default 'staging')`;

export const exportRequestSchema = z
  .strictObject(
    {
      checkpointUri: z
        .string(expecting('s3://bucket/prefix/ of a checkpoint bundle'))
        .max(1024, expecting('s3://bucket/prefix/ of at most 1024 characters'))
        .regex(
          /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[^\s]*$/,
          expecting('s3://bucket/prefix/ of a checkpoint bundle'),
        )
        .describe(
          'The checkpoint bundle: s3://bucket/prefix/ holding config.json, model.safetensors, reference.safetensors.',
        ),
      modelName: named(MODEL_NAME_RULE, 'registered model name, also the object prefix under models/').optional(),
      runId: named(RUN_ID_RULE, 'the training run (an MLflow run id when there is one)').optional(),
      opset: integer(MIN_EMIT_OPSET, MAX_EMIT_OPSET, `ONNX opset (default ${DEFAULT_OPSET})`).optional(),
      parity: z
        .strictObject(
          { mae: tolerance('mean absolute error'), maxAbs: tolerance('largest absolute error') },
          expecting('an object of parity tolerances'),
        )
        .partial()
        .describe(
          `Parity tolerances against the reference outputs (default mae ${DEFAULT_TOLERANCES.mae}, maxAbs ${DEFAULT_TOLERANCES.maxAbs}).`,
        )
        .optional(),
      benchmark: benchmarkSchema.optional(),
      alias: z
        .string(expecting(aliasExpected))
        .max(ALIAS_RULE.maxLength, expecting(aliasExpected))
        .regex(/^[A-Za-z0-9_-]*$/, expecting(aliasExpected))
        .refine((a) => !RESERVED_ALIAS.test(a), expecting(aliasExpected))
        .meta({ description: aliasExpected, not: { pattern: RESERVED_ALIAS.source } })
        .optional(),
      description: z
        .string(expecting('text of at most 5000 characters'))
        .max(5000, expecting('text of at most 5000 characters'))
        .describe("Free text for the model version's description (at most 5000 characters).")
        .optional(),
    },
    expecting('an export request object'),
  )
  .meta({
    title: 'ExportRequest',
    description:
      'The input of the exportModel workflow (task queue onnx-export). Generated from common/export-request.ts.',
  });

export type ExportRequest = z.infer<typeof exportRequestSchema>;

export type RequestCheck = { ok: true; request: ExportRequest } | { ok: false; problems: string[] };

/** Checks a request as any SDK may send it: every problem named by its field, or the request. */
export function checkExportRequest(raw: unknown): RequestCheck {
  const parsed = exportRequestSchema.safeParse(raw, { reportInput: true });
  if (parsed.success) return { ok: true, request: parsed.data };
  // A field failing two checks (its pattern and its range) is named once.
  return { ok: false, problems: [...new Set(parsed.error.issues.flatMap((issue) => describeIssue(issue, raw)))] };
}

type Issue = z.core.$ZodIssue;

function describeIssue(issue: Issue, raw: unknown): string[] {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(issue.path);
    return issue.keys.map((key) => {
      const field = path ? `${path}.${key}` : key;
      const closest = closestKey(key, known);
      return closest
        ? `${field}: unknown field; did you mean ${closest}?`
        : `${field}: unknown field; known fields are ${known.join(', ')}`;
    });
  }
  const got = 'input' in issue ? issue.input : valueAt(raw, issue.path);
  const shown = got === undefined ? 'nothing' : truncate(JSON.stringify(got) ?? String(got));
  return [`${path || 'request'}: ${issue.message}, got ${shown}`];
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const key of path)
    v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = exportRequestSchema;
  for (const key of path) {
    const shape = objectShape(schema);
    const next = shape?.[String(key)];
    if (!next) return [];
    schema = next;
  }
  return Object.keys(objectShape(schema) ?? {});
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  return s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>) : undefined;
}

/** The known field an unknown one most likely meant: same letters ignoring case and separators, a prefix, or a near spelling. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const k = norm(key);
  let best: { name: string; score: number } | undefined;
  for (const name of known) {
    const n = norm(name);
    const score = n === k ? 0 : k.startsWith(n) || n.startsWith(k) ? 1 : editDistance(k, n) + 1;
    if (score <= Math.max(3, Math.ceil(n.length / 3)) && (!best || score < best.score)) best = { name, score };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}

/** The JSON Schema other SDKs validate against (docs/export-request.schema.json is this, written by scripts/). */
export function exportRequestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(exportRequestSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
}
