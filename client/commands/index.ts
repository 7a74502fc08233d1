/** The list of subcommands. A new command is a module in this folder plus one line here. */
import type { Command } from 'commander';
import { register as bench } from './bench';
import { register as doctor } from './doctor';
import { register as emit } from './emit';
import { register as parity } from './parity';
import { register as publish } from './publish';
import { register as smoke } from './smoke';
import { register as stack } from './stack';
import { register as validate } from './validate';
import { register as worker } from './worker';

type Register = (program: Command) => void;

const registrations: Register[] = [
  stack,
  doctor,
  worker,
  smoke,
  emit,
  validate,
  parity,
  bench,
  publish,
];

export function registerCommands(program: Command): void {
  for (const register of registrations) register(program);
}
