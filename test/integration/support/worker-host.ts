/**
 * A worker host and a Temporal client for one integration test file, against the real stack:
 * registers its own beforeAll/afterAll, so a test file only says which options it needs.
 * The returned object is filled in before the file's own beforeAll hooks run.
 */
import { afterAll, beforeAll } from 'vitest';
import type { Client } from '@temporalio/client';
import type { PipelineConfig } from '../../../config/environment';
import { connectClient } from '../../../temporal/connect';
import { createWorkerHost, type WorkerHost, type WorkerHostOptions } from '../../../worker/run-worker';
import { requireStack } from './stack';

export interface LiveWorker {
  config: PipelineConfig;
  host: WorkerHost;
  client: Client;
}

export function useWorkerHost(options: WorkerHostOptions = {}): LiveWorker {
  const live = {} as LiveWorker;
  let running: Promise<void> | undefined;

  beforeAll(async () => {
    live.config = await requireStack();
    live.host = await createWorkerHost(live.config, options);
    running = live.host.run();
    live.client = await connectClient(live.config);
  });

  afterAll(async () => {
    await live.client?.connection.close();
    live.host?.shutdown();
    await running;
  });

  return live;
}
