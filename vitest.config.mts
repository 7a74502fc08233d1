import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs no stack (the workflow tests start a private in-memory Temporal dev
// server from the CLI that scripts/setup.sh builds); `integration` talks to the real local stack
// (Temporal, MinIO, MLflow) that scripts/test-all.sh starts before it runs.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          setupFiles: ['test/integration/support/quiet-sdk-logs.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          // Integration tests share one stack and one worker host; running files in parallel
          // would make them compete for 2 cores and for the same task queues.
          fileParallelism: false,
        },
      },
    ],
  },
});
