/**
 * The list of subcommands. A new command is a module in this folder plus one line here. Modules are
 * loaded on demand: running one command loads only its module (so `emit` never loads onnxruntime or
 * the Temporal SDK); help, `help <cmd>` and unknown names load them all.
 */
import type { Command } from 'commander';

type Register = (program: Command) => void;

/** Command name (as the module registers it) → its module's `register`, in help order. */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  stack: async () => (await import('./stack.js')).register,
  doctor: async () => (await import('./doctor.js')).register,
  worker: async () => (await import('./worker.js')).register,
  smoke: async () => (await import('./smoke.js')).register,
  run: async () => (await import('./run.js')).register,
  status: async () => (await import('./status.js')).register,
  watch: async () => (await import('./watch.js')).register,
  result: async () => (await import('./result.js')).register,
  list: async () => (await import('./list.js')).register,
  emit: async () => (await import('./emit.js')).register,
  validate: async () => (await import('./validate.js')).register,
  quantize: async () => (await import('./quantize.js')).register,
  parity: async () => (await import('./parity.js')).register,
  diagnose: async () => (await import('./diagnose.js')).register,
  bench: async () => (await import('./bench.js')).register,
  publish: async () => (await import('./publish.js')).register,
  promote: async () => (await import('./promote.js')).register,
};

/**
 * Registers the command named by `argv` (node, script, command, ...), or every command when there is
 * none, it is an option (`--help`) or it is not a known name (commander then lists or suggests).
 */
export async function registerCommands(program: Command, argv: readonly string[] = []): Promise<void> {
  const name = argv[2];
  const names =
    name !== undefined && Object.prototype.hasOwnProperty.call(COMMANDS, name) ? [name] : Object.keys(COMMANDS);
  const registers = await Promise.all(names.map((n) => (COMMANDS[n] as () => Promise<Register>)()));
  for (const register of registers) register(program);
}
