/**
 * promoteModel: a registered version becomes what consumers resolve. Checks the gates on the
 * version's recorded tags first; a refusal fails the workflow non-retryably (PromotionRefused)
 * before anything moves. Then points the alias and, when asked, moves the legacy stage (archiving
 * its previous holders). Both moves are no-ops when already so: re-running a promotion, or
 * promoting an earlier version again (a rollback), is safe.
 *
 * Deterministic code only: every read and write is an activity.
 */
import { ApplicationFailure } from '@temporalio/common';
import { proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { FAILURE_TYPES } from '../common/failure-types';
import { checkPromoteRequest, type PromoteRequest, type PromotionResult } from '../common/promotion';
import { PROMOTION_OUTCOMES } from '../common/metrics';
import { searchAttributeKeys } from '../common/search-attributes';
import { countedRun, countPromotion } from './metrics';
import { PROMOTION_CALL_OPTIONS as REGISTRY_CALL } from './stage-options';

const acts = proxyActivities<Activities>(REGISTRY_CALL);

function describeGates(request: PromoteRequest): string {
  const g = request.gates ?? {};
  const parts = [
    ...(g.maxMae !== undefined ? [`MAE ≤ ${g.maxMae}`] : []),
    ...(g.maxP95Ms !== undefined ? [`CPU p95 ≤ ${g.maxP95Ms} ms`] : []),
  ];
  return parts.length ? parts.join(', ') : 'no gates';
}

export async function promoteModel(untrustedRequest: PromoteRequest): Promise<PromotionResult> {
  return countedRun(
    () => runPromotion(untrustedRequest),
    // Re-running a promotion (or a rollback to the version already there) moves nothing.
    (result) =>
      result.alias.changed || result.stage?.changed ? PROMOTION_OUTCOMES.promoted : PROMOTION_OUTCOMES.already,
    (err) => {
      if (!(err instanceof ApplicationFailure)) return PROMOTION_OUTCOMES.failed;
      if (err.type === FAILURE_TYPES.invalidInput) return PROMOTION_OUTCOMES.invalidRequest;
      if (err.type === FAILURE_TYPES.promotionRefused) return PROMOTION_OUTCOMES.refused;
      return PROMOTION_OUTCOMES.failed;
    },
    PROMOTION_OUTCOMES.cancelled,
    countPromotion,
  );
}

async function runPromotion(untrustedRequest: PromoteRequest): Promise<PromotionResult> {
  const { workflowId } = workflowInfo();
  // As in exportModel: a malformed request from any SDK fails at once, naming the field, instead of
  // throwing later in workflow code (which would retry the workflow task forever).
  const checked = checkPromoteRequest(untrustedRequest);
  if (!checked.ok) {
    throw ApplicationFailure.create({
      message: `invalid promote request: ${checked.problems.map((p) => p.text).join('; ')}`,
      type: FAILURE_TYPES.invalidInput,
      nonRetryable: true,
    });
  }
  const request = checked.value;
  const { modelName, version, alias, legacyStage } = request;
  upsertSearchAttributes([{ key: searchAttributeKeys.modelName, value: modelName }]);
  const target = `${modelName} v${version}`;

  const check = await acts.checkPromotionGates.executeWithOptions(
    { ...REGISTRY_CALL, summary: `Check gates of ${target} for @${alias} (${describeGates(request)})` },
    [request],
  );
  if (check.verdict === 'refuse') {
    throw ApplicationFailure.create({
      message: `promotion of ${target} to @${alias} refused: ${check.reasons.join('; ')}`,
      type: FAILURE_TYPES.promotionRefused,
      nonRetryable: true,
      details: [check],
    });
  }

  const aliasMove = await acts.setPromotionAlias.executeWithOptions(
    {
      ...REGISTRY_CALL,
      summary: `Point @${alias} at ${target} (was ${check.previousAliasVersion ? `v${check.previousAliasVersion}` : 'unset'})`,
    },
    [request],
  );
  const stage = legacyStage
    ? await acts.transitionPromotionStage.executeWithOptions(
        {
          ...REGISTRY_CALL,
          summary: `Move ${target} to stage ${legacyStage}, archiving ${check.previousStageVersions.map((v) => `v${v}`).join(', ') || 'none'}`,
        },
        [{ ...request, legacyStage }],
      )
    : undefined;

  return {
    workflowId,
    modelName,
    version,
    verdict: 'promoted',
    gates: request.gates ?? {},
    check,
    alias: aliasMove,
    stage,
    modelUris: [`models:/${modelName}@${alias}`, ...(legacyStage ? [`models:/${modelName}/${legacyStage}`] : [])],
  };
}
