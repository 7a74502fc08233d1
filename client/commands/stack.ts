import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { findProjectRoot } from '../../config/environment';

/** `stack up|down|status`: the local stack, run by scripts/stack.sh (the same script CI uses). */
export function register(program: Command): void {
  program
    .command('stack')
    .description('start, stop or inspect the local stack (Temporal dev server, MinIO, MLflow)')
    .argument('<action>', 'up | down | status')
    .option('--with-worker', 'with `up`: also start a worker in the background (stopped by `down`)')
    .action((action: string, opts: { withWorker?: boolean }) => {
      if (!['up', 'down', 'status'].includes(action))
        throw new Error(`stack: unknown action '${action}', expected up, down or status`);
      const args = [
        join(findProjectRoot(), 'scripts', 'stack.sh'),
        action,
        ...(opts.withWorker ? ['--with-worker'] : []),
      ];
      const res = spawnSync('bash', args, { stdio: 'inherit' });
      process.exitCode = res.status ?? 1;
    });
}
