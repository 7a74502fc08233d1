/**
 * The promotion's contract: what `promoteModel` is asked (a registered version, an alias, an
 * optional legacy stage and gates on the version's recorded tags) and what it answers. Shared by the
 * workflow, its activities and the CLI; imported by workflow code, so pure: no I/O.
 */
import { z } from 'zod';
import { ALIAS_RULE, MODEL_NAME_RULE, RESERVED_ALIAS } from './export-contract';
import { checkAgainst, expecting, nameSchema, type Checked } from './request-check';

/** Workflow type of the promotion (workflows/promote-model.ts). */
export const PROMOTE_WORKFLOW_TYPE = 'promoteModel';

/** MLflow's deprecated stages that consumers still resolve (`models:/<name>/Production`). */
export const LEGACY_STAGES = ['Production', 'Staging'] as const;
export type LegacyStage = (typeof LEGACY_STAGES)[number];

const gateLimit = (what: string) =>
  z
    .number(expecting(`${what}: a finite number ≥ 0`))
    .min(0, expecting(`${what}: a finite number ≥ 0`))
    .refine(Number.isFinite, expecting(`${what}: a finite number ≥ 0`))
    .optional();

/** The promote request: the registered version, the alias, an optional legacy stage, gates on its tags. */
export const promoteRequestSchema = z.strictObject(
  {
    modelName: nameSchema(MODEL_NAME_RULE),
    version: z
      .string(expecting('an MLflow version number (1, 2, …) as a string'))
      .regex(/^[1-9][0-9]{0,9}$/, expecting('an MLflow version number (1, 2, …) as a string')),
    alias: nameSchema(ALIAS_RULE).refine((a) => !RESERVED_ALIAS.test(a), expecting(ALIAS_RULE.expected)),
    legacyStage: z.enum(LEGACY_STAGES, expecting(`one of ${LEGACY_STAGES.join(', ')}`)).optional(),
    gates: z
      .strictObject(
        {
          /** Most parity mean absolute error allowed (tag `parity_mean_abs_error`). */
          maxMae: gateLimit('most parity mean absolute error'),
          /** Most CPU p95 latency allowed, in ms (tag `cpu_p95_ms`). */
          maxP95Ms: gateLimit('most CPU p95 latency in ms'),
        },
        expecting('an object of gates (maxMae, maxP95Ms)'),
      )
      .optional(),
  },
  expecting('a promote request object'),
);

export type PromoteRequest = z.infer<typeof promoteRequestSchema>;
/** Upper bounds on the version's recorded measurements; a gate left out is not checked. */
export type PromotionGates = NonNullable<PromoteRequest['gates']>;

/** Checks a promote request as any caller may send it; every problem names its field. */
export function checkPromoteRequest(raw: unknown): Checked<PromoteRequest> {
  return checkAgainst(promoteRequestSchema, raw);
}

/** One gate's comparison: the limit asked for and what the version recorded. */
export interface GateCheck {
  gate: keyof PromotionGates;
  /** The version tag the gate reads. */
  tag: string;
  limit: number;
  /** The tag's value as a number; undefined when the tag is missing or not a number. */
  recorded: number | undefined;
  passed: boolean;
  /** Why it did not pass (names the gate, the tag and both values). */
  reason?: string;
}

/** The gate check of one version, before anything moves. */
export interface PromotionCheck {
  modelName: string;
  version: string;
  verdict: 'pass' | 'refuse';
  checks: GateCheck[];
  /** Every reason for a refusal, one per failed check. */
  reasons: string[];
  /** The version's recorded measurements (undefined where the tag is missing). */
  recorded: { parityMeanAbsError: number | undefined; cpuP95Ms: number | undefined };
  sha256: string | undefined;
  source: string | undefined;
  /** Its stage before the promotion (`None`, `Staging`, `Production`, `Archived`). */
  currentStage: string | undefined;
  /** The version the alias pointed at before; null when it was unset. */
  previousAliasVersion: string | null;
  /** The versions in the legacy stage before, if a stage was asked for. */
  previousStageVersions: string[];
}

/** What one move did; `changed: false` when it already was so (a re-run, say). */
export interface AliasMove {
  alias: string;
  version: string;
  /** null when the alias was unset. */
  previousVersion: string | null;
  changed: boolean;
}

export interface StageMove {
  stage: LegacyStage;
  version: string;
  previousStage: string | undefined;
  /** Versions that held the stage and are now `Archived`. */
  archived: string[];
  changed: boolean;
}

export interface PromotionResult {
  workflowId: string;
  modelName: string;
  version: string;
  verdict: 'promoted';
  gates: PromotionGates;
  check: PromotionCheck;
  alias: AliasMove;
  stage: StageMove | undefined;
  /** `models:/<name>/<alias-or-stage>` URIs that now resolve to the version. */
  modelUris: string[];
}

/**
 * One workflow id per (model, alias, version): a second promotion of the same version to the same
 * alias joins a running one; after it ended, it runs again (idempotent moves), which is also how
 * a rollback to an earlier version works.
 */
export function promoteWorkflowId(modelName: string, alias: string, version: string): string {
  return `promote-${modelName}-${alias}-${version}`;
}
