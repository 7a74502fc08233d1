/**
 * Integration tests run against the real local stack that scripts/test-all.sh starts (or one a
 * developer started with `onnx-export stack up`). If it is not there, they fail and say so: an
 * integration test is never skipped into a pass.
 */
import { loadConfig, type PipelineConfig } from '../../../config/environment';
import { runDoctor } from '../../../client/doctor';

export async function requireStack(): Promise<PipelineConfig> {
  const config = loadConfig();
  const report = await runDoctor(config);
  if (!report.ok) {
    const problems = report.services
      .filter((s) => !s.reachable || s.missing.length)
      .map((s) => `${s.service} at ${s.endpoint}: ${s.error ?? s.missing.join(', ')}`);
    throw new Error(
      `integration tests need the local stack (run \`npm test\` or \`npx onnx-export stack up\`): ${problems.join('; ')}`,
    );
  }
  return config;
}

/** A name unique to this test run, for objects and registered models the test creates. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
