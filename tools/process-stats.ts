/**
 * One command's own wall clock and peak RSS, measured by /usr/bin/time -v, for the hand-run
 * benchmarks in tools/ (emission-benchmark.ts, heimdall-benchmark.ts). Each run writes into a fresh
 * output file: the previous one removed and the page cache flushed first, so no run pays for another's
 * writeback or for truncating an old file. It must not be imported by library code.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ProcessStats {
  readonly wallSeconds: number;
  readonly peakRssMb: number;
  readonly stdout: string;
}

/** Runs a command under /usr/bin/time -v: its own wall clock and peak RSS. */
export async function measured(cmd: string, args: readonly string[]): Promise<ProcessStats> {
  const { stdout, stderr } = await run('/usr/bin/time', ['-v', cmd, ...args], { maxBuffer: 64 * 1024 * 1024 });
  const field = (label: string): string => stderr.match(new RegExp(`${label}: (.+)`))?.[1]?.trim() ?? '';
  const wall = field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)').split(':').map(Number);
  const wallSeconds = wall.reduce((acc, v) => acc * 60 + v, 0);
  return { wallSeconds, peakRssMb: Number(field('Maximum resident set size \\(kbytes\\)')) / 1024, stdout };
}

/** `repeats` runs of a command that writes `out`, each into a fresh file; returns every run. */
export async function measuredRuns(
  repeats: number,
  out: string,
  cmd: string,
  args: readonly string[],
): Promise<ProcessStats[]> {
  const runs: ProcessStats[] = [];
  for (let i = 0; i < repeats; i++) {
    await rm(out, { force: true });
    await run('sync', []);
    runs.push(await measured(cmd, args));
  }
  return runs;
}
