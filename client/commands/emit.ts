/**
 * `onnx-export emit <bundle-dir> -o <model.onnx>`: a checkpoint bundle to ONNX, offline: emitted by
 * the architecture its config.json names, or (a bundle with its own model.onnx) that graph checked
 * and written as one file. Parses options and prints; the work is models/emitBundle.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { architectureNames, emitBundle, type EmitResult } from '../../models';
import { DEFAULT_OPSET, MAX_EMIT_OPSET, MIN_EMIT_OPSET } from '../../common/export-contract';

export function register(program: Command): void {
  program
    .command('emit')
    .description(
      `emit a checkpoint bundle (config.json + model.safetensors, or a torch checkpoint *.pth/*.pt/*.ckpt; architectures: ${architectureNames().join(', ')}) as ONNX`,
    )
    .argument(
      '<bundle-dir>',
      'directory with config.json and model.safetensors, a torch checkpoint, or its own model.onnx',
    )
    .requiredOption('-o, --output <model.onnx>', 'ONNX file to write')
    .option('--opset <n>', `ai.onnx opset, ${MIN_EMIT_OPSET}..${MAX_EMIT_OPSET} (default ${DEFAULT_OPSET})`, parseOpset)
    .option('--external-data', 'write initializers to <model.onnx>.data even under 2 GB')
    .option('--run-id <id>', 'training run id recorded in metadata (default: config.json run_id)')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        bundleDir: string,
        opts: { output: string; opset?: number; externalData?: boolean; runId?: string; json?: boolean },
      ) => {
        const result = await emitBundle(bundleDir, opts.output, {
          ...(opts.opset !== undefined ? { opset: opts.opset } : {}),
          ...(opts.externalData ? { externalData: true } : {}),
          ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
        });
        process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatEmit(result));
      },
    );
}

function parseOpset(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < MIN_EMIT_OPSET || n > MAX_EMIT_OPSET) {
    throw new InvalidArgumentError(`expected an integer from ${MIN_EMIT_OPSET} to ${MAX_EMIT_OPSET}, got '${value}'`);
  }
  return n;
}

function formatEmit(r: EmitResult): string {
  const lines = [
    `wrote ${r.path} (${r.bytes} bytes, sha256 ${r.sha256})`,
    ...(r.externalData
      ? [`  external data ${r.externalData.path} (${r.externalData.bytes} bytes, sha256 ${r.externalData.sha256})`]
      : []),
    `  ${describeOrigin(r)}, opset ${r.opset}, ${r.nodes} nodes, ${r.initializers} initializers`,
    `  ${r.source === 'brought' ? 'model.onnx as given' : 'checkpoint'} sha256 ${r.checkpointSha256}, ${r.seconds.toFixed(2)} s`,
  ];
  return `${lines.join('\n')}\n`;
}

/** `LocalizationNet backbone=convnext depths=[…]`, or `brought: pytorch 2.1.0` for a bundle's own graph. */
function describeOrigin(r: EmitResult): string {
  if (r.source === 'brought')
    return `brought: ${`${r.producer.name} ${r.producer.version}`.trim() || 'no producer recorded'}`;
  const settings = Object.entries(r.settings).map(([k, v]) => `${k}=${v}`);
  return [r.architecture ?? '', ...settings].join(' ');
}
