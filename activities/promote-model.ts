/**
 * The promotion's activities: check the gates (moves nothing), point the alias, move the legacy
 * stage. Thin: registry/promote-version.ts does the work; errors are mapped by failures.ts, where an
 * MLflow 4xx (no retry can change it) becomes a non-retryable RegistrationError. Refused
 * credentials and failed TLS are not MlflowApiErrors: failures.ts makes them ServiceAuthFailed /
 * ServiceTlsFailed.
 */
import type { AliasMove, LegacyStage, PromoteRequest, PromotionCheck, StageMove } from '../common/promotion';
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

export function createPromoteModelActivities(deps: PromoteModelDeps) {
  return {
    /** Reads the version, its tags and the current alias and stage holders; judges the gates. */
    async checkPromotionGates(request: PromoteRequest): Promise<PromotionCheck> {
      try {
        return await checkPromotion(deps.mlflow, request);
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** Points `alias` at the version (a no-op when it already does). */
    async setPromotionAlias(request: PromoteRequest): Promise<AliasMove> {
      try {
        const { modelName, alias, version } = validatePromoteRequest(request);
        return await pointAlias(deps.mlflow, modelName, alias, version);
      } catch (err) {
        throw toActivityFailure(err);
      }
    },

    /** Moves the version into `stage`, archiving its previous holders (a no-op when already there). */
    async transitionPromotionStage(request: PromoteRequest & { legacyStage: LegacyStage }): Promise<StageMove> {
      try {
        const { modelName, version } = validatePromoteRequest(request);
        return await moveToStage(deps.mlflow, modelName, version, request.legacyStage);
      } catch (err) {
        throw toActivityFailure(err);
      }
    },
  };
}
