import type { Command } from 'commander';
import { loadConfig } from '../../config/environment';
import { createWorkerHost } from '../../worker/run-worker';
import { installWorkerTelemetry } from '../../worker/telemetry';
import { checkServiceAccess } from '../worker-preflight';

export function register(program: Command): void {
  program
    .command('worker')
    .description(
      'run a worker for the queues this host serves (until SIGINT/SIGTERM); ONNX_EXPORT_METRICS_ADDRESS=ip:port serves Prometheus metrics',
    )
    .action(async () => {
      const config = loadConfig();
      // Before createWorkerHost: the Runtime must exist before the first NativeConnection.
      const { logger, metricsAddress } = installWorkerTelemetry(config);
      const access = await checkServiceAccess(config);
      // Every such problem in one line (the CLI prints an error as one line, without a stack).
      if (access.fatal.length) throw new Error(access.fatal.map((e) => e.message).join('; '));
      for (const problem of access.unreachable) logger.warn(`not reachable yet (activities retry): ${problem}`);
      const host = await createWorkerHost(config);
      const queues = host.workers.map((w) => w.options.taskQueue);
      // scripts/stack.sh and the tests wait for the text "worker polling" in this line's message.
      logger.info(
        `worker polling ${queues.join(', ')} on ${config.temporal.address} (namespace ${config.temporal.namespace})`,
        { taskQueues: queues, namespace: config.temporal.namespace },
      );
      logger.info(`GPU queue ${host.gpuQueue.serve ? 'served' : 'not served'}: ${host.gpuQueue.reason}`, {
        gpuQueueServed: host.gpuQueue.serve,
      });
      logger.info(metricsAddress ? `metrics on http://${metricsAddress}/metrics` : 'metrics off', {
        metricsAddress: metricsAddress ?? null,
      });
      await host.run();
    });
}
