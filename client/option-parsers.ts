/** Number options shared by the commands: each refuses what it cannot take, quoting the value. */
import { InvalidArgumentError } from 'commander';

/** A tolerance: any finite number ≥ 0. */
export function parseNonNegative(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative number, got '${value}'`);
  return n;
}

/** A size: any finite number > 0. */
export function parsePositive(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got '${value}'`);
  return n;
}
