/**
 * `onnx-export`: the command-line entry point. Each subcommand lives in client/commands/<name>.ts
 * and registers itself (loaded only when its command runs, see commands/index.ts); this file only
 * assembles them and maps errors to exit codes.
 */
import { Command } from 'commander';
import { registerCommands } from './commands';

export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('onnx-export')
    .description('Export a PyTorch LocalizationNet checkpoint to a verified, benchmarked ONNX model')
    .showHelpAfterError();
  await registerCommands(program, argv);
  await program.parseAsync([...argv]);
}

/** Runs the CLI and turns a thrown error into one line on stderr and a non-zero exit code. */
export function runCli(argv: readonly string[]): void {
  main(argv).catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`onnx-export: ${message}\n`);
    // Exit now: a failed command must not linger on handles it opened (the worker's SDK runtime
    // keeps the process alive). stderr is synchronous for files, pipes and terminals on Linux.
    process.exit(process.exitCode || 1);
  });
}

if (require.main === module) runCli(process.argv);
