/**
 * Runs one `onnx-export` command in this process (its `register`), capturing what it writes to stdout
 * and the exit code it sets (process.exitCode, reset before returning). Commander throws instead of
 * exiting (exitOverride).
 */
import { Command } from 'commander';
import { vi } from 'vitest';

export async function runCommandInProcess(
  register: (program: Command) => void,
  command: string,
  args: readonly string[],
): Promise<{ out: string; exitCode: number }> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const program = new Command('onnx-export').exitOverride();
  register(program);
  try {
    await program.parseAsync(['node', 'onnx-export', command, ...args]);
    return { out, exitCode: Number(process.exitCode ?? 0) };
  } finally {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  }
}
