import { describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTE_NAMES, TASK_QUEUES } from '../../common/constants';

describe('constants', () => {
  it('names the three queues of the design, all distinct', () => {
    expect(new Set(Object.values(TASK_QUEUES)).size).toBe(3);
    expect(TASK_QUEUES.export).toBe('onnx-export');
  });
  it('lists the four search attributes the stack registers', () => {
    expect([...SEARCH_ATTRIBUTE_NAMES].sort()).toEqual(['ExportStage', 'ModelName', 'OnnxSha256', 'TrainingRunId']);
  });
});
