/**
 * Test-only workflow: runs the benchmark stage helper, then goes on (returns a marker), as an export
 * does after its benchmarks. Bundled by integration tests' workers; never registered in production.
 */
import { runBenchmarkStage } from '../../workflows/benchmark-stage';
import type { BenchmarkStageInput, BenchmarkStageResult } from '../../workflows/benchmark-stage';

export interface BenchStageThenContinueResult {
  stage: BenchmarkStageResult;
  continuedAfterBenchmark: true;
}

export async function benchStageThenContinue(input: BenchmarkStageInput): Promise<BenchStageThenContinueResult> {
  const stage = await runBenchmarkStage(input);
  return { stage, continuedAfterBenchmark: true };
}
