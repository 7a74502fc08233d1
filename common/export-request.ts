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
import { checkAgainst, expecting, nameSchema } from './request-check';
import {
  ALIAS_RULE,
  CALIBRATION_METHODS,
  DEFAULT_INT8_MAX_FLOAT_FRACTION,
  DEFAULT_INT8_TOLERANCES,
  DEFAULT_OPSET,
  DEFAULT_TOLERANCES,
  DEFAULT_VARIANTS,
  INT8_NAME_SUFFIX,
  MAX_EMIT_OPSET,
  MIN_EMIT_OPSET,
  MODEL_NAME_RULE,
  MODEL_VARIANTS,
  RESERVED_ALIAS,
  RUN_ID_RULE,
  type NameRule,
} from './export-contract';

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

function integer(min: number, max: number, what: string) {
  const expected = `${what}: an integer from ${min} to ${max}`;
  return z.int(expecting(expected)).min(min, expecting(expected)).max(max, expecting(expected)).describe(expected);
}

function tolerance(what: string) {
  const expected = `${what}: a positive number at most 1`;
  return z.number(expecting(expected)).positive(expecting(expected)).max(1, expecting(expected)).describe(expected);
}

function named(rule: NameRule, what: string) {
  return nameSchema(rule).describe(`${what}: ${rule.expected}`);
}

const gpuWait = `how long the GPU benchmark waits for a GPU worker that polls, from 1 second to 24 hours, e.g. '30 seconds', '10m' (default 10 minutes)`;

/** A symbolic dimension's name as graphs spell it (`receivers`, `seq_len`, torch's `s0`). */
const DIM_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,100}$/;
const dimsExpected =
  "an object of at most 16 symbolic dimension sizes, e.g. {\"receivers\": 7, \"seq_len\": 10000}: names of 1-100 letters, digits, '_', '.', ':' or '-', sizes integers from 1 to 1000000";

const benchmarkSchema = z
  .strictObject(
    {
      dims: z
        .record(
          z.string(expecting(dimsExpected)).regex(DIM_NAME_PATTERN, expecting(dimsExpected)),
          integer(1, 1_000_000, 'a dimension size'),
          expecting(dimsExpected),
        )
        .refine((dims) => Object.keys(dims).length <= 16, expecting(dimsExpected))
        .meta({
          description:
            "Sizes of the graph's symbolic dimensions other than the batch for the benchmark's inputs, e.g. " +
            '{"receivers": 7, "seq_len": 10000}; a dimension not named here takes its size from the reference\'s first case.',
          maxProperties: 16,
        })
        .optional(),
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

const variantsExpected =
  `a list of distinct variants from ${MODEL_VARIANTS.join(', ')} that includes fp32 (int8 is derived from the fp32 graph): ` +
  `["fp32"] (the default) or ["fp32", "int8"]`;

const variantsSchema = z
  .array(z.enum(MODEL_VARIANTS, expecting(variantsExpected)), expecting(variantsExpected))
  .min(1, expecting(variantsExpected))
  .max(MODEL_VARIANTS.length, expecting(variantsExpected))
  .refine((v) => v.includes('fp32') && new Set(v).size === v.length, expecting(variantsExpected))
  .meta({
    description: `The model variants to produce: ${variantsExpected}.`,
    uniqueItems: true,
    contains: { const: 'fp32' },
    default: [...DEFAULT_VARIANTS],
  });

/** Parity tolerances, against the bundle's reference outputs. */
function paritySchema(defaults: { mae: number; maxAbs: number }, what: string) {
  return z
    .strictObject(
      { mae: tolerance('mean absolute error'), maxAbs: tolerance('largest absolute error') },
      expecting('an object of parity tolerances'),
    )
    .partial()
    .describe(`${what} against the reference outputs (default mae ${defaults.mae}, maxAbs ${defaults.maxAbs}).`);
}

const maxFloatExpected = 'a number from 0 to 1 (0: no node kept float)';

const calibrationExpected = `one of ${CALIBRATION_METHODS.join(', ')} (default: the quantizer's)`;

const int8Schema = z
  .strictObject(
    {
      parity: paritySchema(DEFAULT_INT8_TOLERANCES, 'Parity tolerances of the int8 graph').optional(),
      calibration: z
        .enum(CALIBRATION_METHODS, expecting(calibrationExpected))
        .describe(`How activation ranges are chosen from the calibration inputs: ${calibrationExpected}.`)
        .optional(),
      maxFloatFraction: z
        .number(expecting(maxFloatExpected))
        .min(0, expecting(maxFloatExpected))
        .max(1, expecting(maxFloatExpected))
        .describe(
          'When the int8 graph misses its parity gate, its most sensitive quantized nodes are kept float until it passes, ' +
            `at most this share of them: ${maxFloatExpected} (default ${DEFAULT_INT8_MAX_FLOAT_FRACTION}).`,
        )
        .optional(),
    },
    expecting('an object of int8 variant settings (parity, calibration, maxFloatFraction)'),
  )
  .describe('Settings of the int8 variant; only with variants ["fp32", "int8"].');

/** The longest model name that leaves room for the int8 variant's `-int8`. */
export const MAX_INT8_MODEL_NAME_LENGTH = MODEL_NAME_RULE.maxLength - INT8_NAME_SUFFIX.length;

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
          'The checkpoint bundle: s3://bucket/prefix/ holding reference.safetensors and weights (config.json + model.safetensors, or one torch checkpoint *.pth/*.pt/*.ckpt) or its own model.onnx.',
        ),
      modelName: named(MODEL_NAME_RULE, 'registered model name, also the object prefix under models/').optional(),
      runId: named(RUN_ID_RULE, 'the training run (an MLflow run id when there is one)').optional(),
      opset: integer(MIN_EMIT_OPSET, MAX_EMIT_OPSET, `ONNX opset (default ${DEFAULT_OPSET})`).optional(),
      parity: paritySchema(DEFAULT_TOLERANCES, 'Parity tolerances').optional(),
      benchmark: benchmarkSchema.optional(),
      variants: variantsSchema.optional(),
      int8: int8Schema.optional(),
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
  .superRefine((request, ctx) => {
    // Rules across fields (not in the JSON Schema; the starter and the workflow check them).
    const int8 = request.variants?.includes('int8') ?? false;
    if (request.int8 !== undefined && !int8) {
      ctx.addIssue({
        code: 'custom',
        path: ['int8'],
        input: request.int8,
        message: 'expected int8 settings only when variants includes "int8" (set variants to ["fp32", "int8"])',
      });
    }
    if (int8 && request.modelName !== undefined && request.modelName.length > MAX_INT8_MODEL_NAME_LENGTH) {
      ctx.addIssue({
        code: 'custom',
        path: ['modelName'],
        input: request.modelName,
        message:
          `expected at most ${MAX_INT8_MODEL_NAME_LENGTH} characters when variants includes "int8" ` +
          `(its versions are registered as <modelName>${INT8_NAME_SUFFIX}, at most ${MODEL_NAME_RULE.maxLength} characters)`,
      });
    }
  })
  .meta({
    title: 'ExportRequest',
    description:
      'The input of the exportModel workflow (task queue onnx-export). Generated from common/export-request.ts.',
  });

export type ExportRequest = z.infer<typeof exportRequestSchema>;

export type RequestCheck = { ok: true; request: ExportRequest } | { ok: false; problems: string[] };

/** Checks a request as any SDK may send it: every problem named by its field, or the request. */
export function checkExportRequest(raw: unknown): RequestCheck {
  const checked = checkAgainst(exportRequestSchema, raw);
  return checked.ok
    ? { ok: true, request: checked.value }
    : { ok: false, problems: checked.problems.map((p) => p.text) };
}

/** The JSON Schema other SDKs validate against (docs/export-request.schema.json is this, written by scripts/). */
export function exportRequestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(exportRequestSchema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
}
