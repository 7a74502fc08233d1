/**
 * Who polls a task queue, from Temporal's DescribeTaskQueue: the server remembers each worker that
 * polled the queue in the last few minutes, with the time of its last poll.
 */
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';

export interface TaskQueuePoller {
  identity: string;
  /** Time of its last poll, ISO 8601. */
  lastAccessTime: string;
}

/** The workers that polled `taskQueue` for activity tasks, most recent first. */
export async function activityPollers(client: Client, taskQueue: string): Promise<TaskQueuePoller[]> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (response.pollers ?? [])
    .map((p) => ({ identity: p.identity ?? '', lastAccessMs: tsToMs(p.lastAccessTime) }))
    .sort((a, b) => b.lastAccessMs - a.lastAccessMs)
    .map((p) => ({ identity: p.identity, lastAccessTime: new Date(p.lastAccessMs).toISOString() }));
}
