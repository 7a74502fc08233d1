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
import { register as run } from './run';
import { register as status } from './status';
import { register as watch } from './watch';
import { register as result } from './result';
import { register as list } from './list';

type Register = (program: Command) => void;

const registrations: Register[] = [
  stack,
  doctor,
  worker,
  smoke,
  run,
  status,
  watch,
  result,
  list,
  emit,
  validate,
  parity,
  bench,
  publish,
];

export function registerCommands(program: Command): void {
  for (const register of registrations) register(program);
}
