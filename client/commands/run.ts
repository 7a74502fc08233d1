import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_OPSET, MAX_EMIT_OPSET, MIN_EMIT_OPSET } from '../../common/export-contract';
import type { ExportRequest } from '../../common/export-request';
import { loadConfig } from '../../config/environment';
import { uploadBundle } from '../bundle-upload';
import { startExport } from '../export-starter';
import { connectClient, workflowUiLink } from '../../temporal/connect';
import { watchExport } from './watch';
import { workflowFailureMessage } from '../workflow-failure';
import { formatResult } from '../export-view';

interface RunOptions {
  modelName?: string;
  runId?: string;
  opset?: string;
  alias?: string;
  gpu: boolean;
  gpuTimeout?: string;
  batch?: string;
  wait?: boolean;
  json?: boolean;
}

/** `run`: starts an export (uploading a local bundle first); with --wait, follows it to the end. */
export function register(program: Command): void {
  program
    .command('run')
    .description('export a checkpoint bundle (a local folder is uploaded to the checkpoints bucket first)')
    .argument(
      '<bundle>',
      'bundle folder (config.json, model.safetensors, reference.safetensors) or s3://bucket/prefix/',
    )
    .option('--model-name <name>', 'registered model name (default heimdall-localization-onnx)')
    .option('--run-id <id>', 'training run id: one export per run')
    .option('--opset <n>', `ONNX opset (${MIN_EMIT_OPSET}-${MAX_EMIT_OPSET}, default ${DEFAULT_OPSET})`)
    .option('--alias <alias>', "registry alias for the new version (default staging; '' for none)")
    .option('--batch <list>', 'benchmark batch sizes, e.g. 1,32')
    .option('--no-gpu', 'skip the GPU benchmark')
    .option('--gpu-timeout <duration>', 'how long the GPU benchmark waits for a GPU worker (default 10 minutes)')
    .option('--wait', 'follow the export until it ends and print the result')
    .option('--json', 'print JSON')
    .action(async (bundle: string, opts: RunOptions) => {
      const config = loadConfig();
      let checkpointUri = bundle;
      if (!bundle.startsWith('s3://')) {
        if (!existsSync(bundle) || !statSync(bundle).isDirectory())
          throw new Error(`${bundle}: not a folder and not an s3:// URI`);
        const up = await uploadBundle(config, bundle);
        checkpointUri = up.uri;
        if (!opts.json) process.stdout.write(`uploaded bundle to ${up.uri} (${up.bytesSent} bytes sent)\n`);
      }
      const request: ExportRequest = {
        checkpointUri,
        ...(opts.modelName ? { modelName: opts.modelName } : {}),
        ...(opts.runId ? { runId: opts.runId } : {}),
        ...(opts.opset ? { opset: Number(opts.opset) } : {}),
        ...(opts.alias !== undefined ? { alias: opts.alias } : {}),
        benchmark: {
          gpu: opts.gpu,
          ...(opts.gpuTimeout ? { gpuScheduleToStartTimeout: opts.gpuTimeout } : {}),
          ...(opts.batch ? { batchSizes: opts.batch.split(',').map(Number) } : {}),
        },
      };
      const client = await connectClient(config);
      try {
        const started = await startExport(client, request);
        const link = workflowUiLink(config, started.workflowId);
        if (!opts.json) {
          const verb = {
            started: 'started',
            'joined-running': 'joined the running export',
            'found-completed': 'found the completed export',
          }[started.outcome];
          process.stdout.write(`${verb} ${started.workflowId}\n  Web UI: ${link}\n`);
        }
        if (!opts.wait) {
          if (opts.json)
            process.stdout.write(
              `${JSON.stringify({ workflowId: started.workflowId, outcome: started.outcome, checkpointUri, link }, null, 2)}\n`,
            );
          return;
        }
        if (!opts.json) await watchExport(started.handle, { tty: Boolean(process.stdout.isTTY) });
        const result = await started.handle.result().catch((err: unknown) => {
          const failure = workflowFailureMessage(err);
          if (failure === undefined) throw err;
          throw new Error(`export ${started.workflowId} failed: ${failure} (Web UI: ${link})`);
        });
        process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatResult(result)}\n`);
      } finally {
        await client.connection.close();
      }
    });
}
