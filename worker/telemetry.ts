/**
 * The worker process's SDK Runtime: its logger (JSON lines off a terminal, worker/log-format.ts) and,
 * only when ONNX_EXPORT_METRICS_ADDRESS is set, the SDK's own Prometheus exporter, which serves the
 * SDK's `temporal_*` metrics and the pipeline's `onnx_export_*` ones (common/metrics.ts) on `/metrics`.
 *
 * The Runtime is a process-wide singleton that the first NativeConnection creates with defaults, so
 * this runs before any connection, once per process (the `worker` command, a production host).
 * In-process tests install their own Runtime and never call this.
 */
import { Runtime, type Logger } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/common';
import { METRICS, STAGE_DURATION_BUCKETS_SECONDS } from '../common/metrics';
import type { PipelineConfig } from '../config/environment';
import { LineLogger } from './log-format';

export interface WorkerTelemetry {
  /** The Runtime's logger; the worker command writes its own lines through it too. */
  logger: Logger;
  /** The bound Prometheus address, or undefined when metrics are off. */
  metricsAddress: string | undefined;
}

let installed: WorkerTelemetry | undefined;

export interface TelemetryOptions {
  /** Where log lines go; default stdout. */
  stream?: NodeJS.WriteStream;
  level?: LogLevel;
}

/**
 * Installs the Runtime (once; later calls return the first installation). Logs go to stdout: the
 * command's own lines already go there, the format follows whether that stream is a terminal, and a
 * collector reading one stream gets every record. Core's native records are forwarded to the same
 * logger so that nothing is printed by Rust in its own format.
 */
export function installWorkerTelemetry(config: PipelineConfig, options: TelemetryOptions = {}): WorkerTelemetry {
  if (installed) return installed;
  const stream = options.stream ?? process.stdout;
  const logger = new LineLogger({
    level: options.level ?? 'INFO',
    json: stream.isTTY !== true,
    write: (line) => stream.write(line),
  });
  const address = config.metrics.address;
  try {
    Runtime.install({
      logger,
      telemetryOptions: {
        logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } },
        ...(address
          ? {
              metrics: {
                prometheus: {
                  bindAddress: address,
                  // Seconds, as the histogram's name says; bucket bounds sized for stages (common/metrics.ts).
                  useSecondsForDurations: true,
                  histogramBucketOverrides: { [METRICS.stageDuration]: [...STAGE_DURATION_BUCKETS_SECONDS] },
                },
              },
            }
          : {}),
      },
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      address
        ? `could not start the worker's metrics endpoint on ONNX_EXPORT_METRICS_ADDRESS=${address}: ${why}`
        : `could not install the Temporal SDK runtime: ${why}`,
    );
  }
  installed = { logger, metricsAddress: address };
  return installed;
}
