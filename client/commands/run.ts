import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import {
  CALIBRATION_METHODS,
  DEFAULT_INT8_MAX_FLOAT_FRACTION,
  DEFAULT_INT8_TOLERANCES,
  DEFAULT_OPSET,
  DEFAULT_TOLERANCES,
  MAX_EMIT_OPSET,
  MIN_EMIT_OPSET,
  MODEL_VARIANTS,
} from '../../common/export-contract';
import type { ExportRequest } from '../../common/export-request';
import { loadConfig } from '../../config/environment';
import { uploadBundle } from '../bundle-upload';
import { startExport } from '../export-starter';
import { connectClient, workflowUiLink } from '../../temporal/connect';
import { watchExport } from './watch';
import { workflowFailureMessage } from '../workflow-failure';
import { formatResult } from '../export-view';
import { dimList } from './bench';

interface RunOptions {
  modelName?: string;
  runId?: string;
  opset?: string;
  alias?: string;
  gpu: boolean;
  gpuTimeout?: string;
  batch?: string;
  dims?: Record<string, number>;
  mae?: string;
  maxAbs?: string;
  variants?: string;
  int8Mae?: string;
  int8MaxAbs?: string;
  calibration?: string;
  int8MaxFloat?: string;
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
      'bundle folder (config.json + model.safetensors, a torch checkpoint *.pth/*.pt/*.ckpt, or its own model.onnx; reference.safetensors) or s3://bucket/prefix/',
    )
    .option('--model-name <name>', 'registered model name (default heimdall-localization-onnx)')
    .option('--run-id <id>', 'training run id: one export per run')
    .option('--opset <n>', `ONNX opset (${MIN_EMIT_OPSET}-${MAX_EMIT_OPSET}, default ${DEFAULT_OPSET})`)
    .option('--alias <alias>', "registry alias for the new version (default staging; '' for none)")
    .option('--batch <list>', 'benchmark batch sizes, e.g. 1,32')
    .option(
      '--dims <name=N,…>',
      "benchmark sizes of the graph's symbolic dimensions other than the batch, e.g. receivers=7,seq_len=10000 (default: the reference's first case)",
      dimList,
    )
    .option('--mae <n>', `parity: most mean absolute error against the reference (default ${DEFAULT_TOLERANCES.mae})`)
    .option('--max-abs <n>', `parity: most absolute error against the reference (default ${DEFAULT_TOLERANCES.maxAbs})`)
    .option('--no-gpu', 'skip the GPU benchmark')
    .option('--gpu-timeout <duration>', 'how long the GPU benchmark waits for a GPU worker (default 10 minutes)')
    .option(
      '--variants <list>',
      `model variants to produce, from ${MODEL_VARIANTS.join(', ')}: fp32 (default) or fp32,int8 (int8 registers as <model-name>-int8)`,
    )
    .option('--int8-mae <n>', `int8 parity: most mean absolute error (default ${DEFAULT_INT8_TOLERANCES.mae})`)
    .option('--int8-max-abs <n>', `int8 parity: most absolute error (default ${DEFAULT_INT8_TOLERANCES.maxAbs})`)
    .option('--calibration <method>', `int8 calibration method: ${CALIBRATION_METHODS.join(', ')}`)
    .option(
      '--int8-max-float <fraction>',
      `int8: when the graph misses its gate, keep at most this share of its quantizable nodes float, the most sensitive first (0 to 1, default ${DEFAULT_INT8_MAX_FLOAT_FRACTION}; 0: none)`,
    )
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
      const parity = {
        ...(opts.mae !== undefined ? { mae: Number(opts.mae) } : {}),
        ...(opts.maxAbs !== undefined ? { maxAbs: Number(opts.maxAbs) } : {}),
      };
      const int8Parity = {
        ...(opts.int8Mae !== undefined ? { mae: Number(opts.int8Mae) } : {}),
        ...(opts.int8MaxAbs !== undefined ? { maxAbs: Number(opts.int8MaxAbs) } : {}),
      };
      const int8 = {
        ...(Object.keys(int8Parity).length > 0 ? { parity: int8Parity } : {}),
        ...(opts.calibration !== undefined ? { calibration: opts.calibration } : {}),
        ...(opts.int8MaxFloat !== undefined ? { maxFloatFraction: Number(opts.int8MaxFloat) } : {}),
      };
      const request: ExportRequest = {
        checkpointUri,
        ...(opts.modelName ? { modelName: opts.modelName } : {}),
        ...(opts.runId ? { runId: opts.runId } : {}),
        ...(opts.opset ? { opset: Number(opts.opset) } : {}),
        ...(opts.alias !== undefined ? { alias: opts.alias } : {}),
        ...(Object.keys(parity).length > 0 ? { parity } : {}),
        benchmark: {
          gpu: opts.gpu,
          ...(opts.gpuTimeout ? { gpuScheduleToStartTimeout: opts.gpuTimeout } : {}),
          ...(opts.batch ? { batchSizes: opts.batch.split(',').map(Number) } : {}),
          ...(opts.dims ? { dims: opts.dims } : {}),
        },
        // Checked, with the field named, by startExport: an unknown variant or calibration method is refused there.
        ...(opts.variants !== undefined
          ? { variants: opts.variants.split(',').map((v) => v.trim()) as ExportRequest['variants'] }
          : {}),
        ...(Object.keys(int8).length > 0 ? { int8: int8 as ExportRequest['int8'] } : {}),
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
