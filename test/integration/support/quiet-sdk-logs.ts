/**
 * vitest setup for integration tests: the Temporal SDK logs at WARN, so the webpack bundle report
 * and worker state changes at INFO don't bury the test output. Failures and warnings still show.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';

try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this process (a second setup run in the same worker): keep the first.
}
