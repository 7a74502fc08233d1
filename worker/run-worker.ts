/**
 * Starts the worker processes this host serves, against the configured Temporal address.
 * Graceful shutdown (SIGINT/SIGTERM) is the SDK's: polling stops, running activities finish or
 * are cancelled with a chance to heartbeat their progress.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { TASK_QUEUES } from '../common/constants';
import type { PipelineConfig } from '../config/environment';
import { createActivities } from '../activities';

export interface WorkerHost {
  workers: Worker[];
  /** Resolves when every worker has shut down. */
  run(): Promise<void>;
  shutdown(): void;
  connection: NativeConnection;
}

/** The workflows bundle entry: the .ts source under vitest, the compiled .js under dist/. */
export function workflowsEntry(): string {
  const ts = join(__dirname, '..', 'workflows', 'index.ts');
  return existsSync(ts) ? ts : join(__dirname, '..', 'workflows', 'index.js');
}

export async function createWorkerHost(config: PipelineConfig): Promise<WorkerHost> {
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const activities = createActivities(config);
  const general = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: TASK_QUEUES.export,
    workflowsPath: workflowsEntry(),
    activities,
  });
  const workers = [general];
  return {
    workers,
    connection,
    async run() {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        await connection.close();
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
