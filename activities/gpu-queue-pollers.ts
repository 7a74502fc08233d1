/**
 * Before the export waits for a GPU benchmark: does any worker poll the GPU queue? Only a host whose
 * CUDA probe passed polls it (worker/run-worker.ts), so no recent poller means no GPU in this
 * deployment, and the benchmark stage records the GPU benchmark as skipped at once instead of
 * waiting out its schedule-to-start timeout.
 */
import type { Client } from '@temporalio/client';
import { activityPollers, type TaskQueuePoller } from '../temporal/task-queue-pollers';

export interface GpuQueuePollersInput {
  taskQueue: string;
  /** A poller counts when its last poll is at most this old. */
  recentWithinMs: number;
}

export interface GpuQueuePollers {
  taskQueue: string;
  checkedAt: string;
  recentWithinMs: number;
  /** Pollers whose last poll is recent enough, most recent first. */
  recent: TaskQueuePoller[];
}

export function createGpuQueuePollersActivity(client: () => Promise<Client>) {
  return {
    async gpuQueuePollers(input: GpuQueuePollersInput): Promise<GpuQueuePollers> {
      const now = Date.now();
      const pollers = await activityPollers(await client(), input.taskQueue);
      return {
        taskQueue: input.taskQueue,
        checkedAt: new Date(now).toISOString(),
        recentWithinMs: input.recentWithinMs,
        recent: pollers.filter((p) => now - Date.parse(p.lastAccessTime) <= input.recentWithinMs),
      };
    },
  };
}
