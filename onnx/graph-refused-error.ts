/**
 * The refusal of a whole staged graph by the validate stage's checks: our checker's structural
 * problems, or onnxruntime refusing to load a graph with ops the checker has no schema for. It carries
 * the validation report (every problem, and the ops not checked), so the failure shows all of them.
 * Final: the graph's bytes will not change. Must not decide retries (activities/failures.ts does).
 */
import type { ValidationReport } from '../common/export-contract';

export class GraphRefusedError extends Error {
  override readonly name = 'GraphRefusedError';

  constructor(
    message: string,
    readonly report: ValidationReport,
  ) {
    super(message);
  }
}
