/**
 * `onnx-export run <dir> --model-name … --wait --json` with the built CLI, as a user runs it, for
 * tests that export a local bundle end to end (one batch size, no GPU). Tests only.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PipelineConfig } from '../../../config/environment';
import type { ExportResult } from '../../../workflows/export-model';

const run = promisify(execFile);

/**
 * Exports `dir` as `modelName` (run id r1, batch 1, no GPU; `extra` options after those, e.g.
 * `--variants fp32,int8`) and returns the CLI's JSON result.
 */
export async function exportWithCli(
  config: PipelineConfig,
  dir: string,
  modelName: string,
  extra: readonly string[] = [],
): Promise<ExportResult> {
  const cli = join(config.projectRoot, 'bin', 'onnx-export.js');
  const fixed = ['--model-name', modelName, '--run-id', 'r1', '--batch', '1', '--no-gpu'];
  const { stdout } = await run('node', [cli, 'run', dir, ...fixed, ...extra, '--wait', '--json'], {
    timeout: 600_000,
  });
  return JSON.parse(stdout) as ExportResult;
}
