import type { Command } from 'commander';
import { loadConfig } from '../../config/environment';
import { createWorkerHost } from '../../worker/run-worker';

export function register(program: Command): void {
  program
    .command('worker')
    .description('run a worker for the queues this host serves (until SIGINT/SIGTERM)')
    .action(async () => {
      const config = loadConfig();
      const host = await createWorkerHost(config);
      const queues = host.workers.map((w) => w.options.taskQueue).join(', ');
      process.stdout.write(
        `worker polling ${queues} on ${config.temporal.address} (namespace ${config.temporal.namespace})\n`,
      );
      process.stdout.write(`GPU queue ${host.gpuQueue.serve ? 'served' : 'not served'}: ${host.gpuQueue.reason}\n`);
      await host.run();
    });
}
