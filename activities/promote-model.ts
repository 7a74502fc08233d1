/**
 * The promotion's activities: check the gates (moves nothing), point the alias, move the legacy
 * stage. Thin: registry/promote-version.ts does the work; errors are mapped by failures.ts, and an
 * MLflow 4xx (no retry can change it) becomes a non-retryable RegistrationError. Refused
 * credentials and failed TLS are not MlflowApiErrors: failures.ts makes them ServiceAuthFailed /
 * ServiceTlsFailed.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FAILURE_TYPES } from '../common/failure-types';
import type { AliasMove, LegacyStage, PromoteRequest, PromotionCheck, StageMove } from '../common/promotion';
import { MlflowApiError } from '../registry/mlflow-client';
import {
  checkPromotion,
  moveToStage,
  pointAlias,
  validatePromoteRequest,
  type PromotionRegistryApi,
} from '../registry/promote-version';
import { toActivityFailure } from './failures';

export interface PromoteModelDeps {
  mlflow: PromotionRegistryApi;
}

function promotionFailure(err: unknown): Error {
  if (err instanceof MlflowApiError)
    return ApplicationFailure.create({
      message: err.message,
      type: FAILURE_TYPES.registrationError,
      nonRetryable: !err.retryable,
      cause: err,
    });
  return toActivityFailure(err);
}

export function createPromoteModelActivities(deps: PromoteModelDeps) {
  return {
    /** Reads the version, its tags and the current alias and stage holders; judges the gates. */
    async checkPromotionGates(request: PromoteRequest): Promise<PromotionCheck> {
      try {
        return await checkPromotion(deps.mlflow, request);
      } catch (err) {
        throw promotionFailure(err);
      }
    },

    /** Points `alias` at the version (a no-op when it already does). */
    async setPromotionAlias(request: PromoteRequest): Promise<AliasMove> {
      try {
        const { modelName, alias, version } = validatePromoteRequest(request);
        return await pointAlias(deps.mlflow, modelName, alias, version);
      } catch (err) {
        throw promotionFailure(err);
      }
    },

    /** Moves the version into `stage`, archiving its previous holders (a no-op when already there). */
    async transitionPromotionStage(request: PromoteRequest & { legacyStage: LegacyStage }): Promise<StageMove> {
      try {
        const { modelName, version } = validatePromoteRequest(request);
        return await moveToStage(deps.mlflow, modelName, version, request.legacyStage);
      } catch (err) {
        throw promotionFailure(err);
      }
    },
  };
}
