/** Typed keys of the export's search attributes (all Keyword), for workflows and starters alike. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from './constants';

export const searchAttributeKeys = {
  modelName: defineSearchAttributeKey(SEARCH_ATTRIBUTES.modelName, SearchAttributeType.KEYWORD),
  onnxSha256: defineSearchAttributeKey(SEARCH_ATTRIBUTES.onnxSha256, SearchAttributeType.KEYWORD),
  trainingRunId: defineSearchAttributeKey(SEARCH_ATTRIBUTES.trainingRunId, SearchAttributeType.KEYWORD),
  exportStage: defineSearchAttributeKey(SEARCH_ATTRIBUTES.exportStage, SearchAttributeType.KEYWORD),
};
