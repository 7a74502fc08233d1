/** client/commands/bench.ts through the real CLI parser: options, --json on stdout, --svg and --out files. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeProbeModel } from '../../bench/probe-model';
import type { ComparisonReport, LatencyReport } from '../../bench/report-types';
import { main } from '../../client/cli';
import { progressReporter } from '../../client/commands/bench';

const QUICK = ['--runs', '5', '--min-runs', '3', '--time-budget', '0.02', '--threads', '1'];
let dir: string;
let model: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bench-cli-'));
  model = join(dir, 'probe.onnx');
  writeFileSync(model, (await makeProbeModel({ width: 8 })).bytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function cli(args: string[]): Promise<string> {
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  await main(['node', 'onnx-export', 'bench', ...args]);
  return stdout;
}

describe('onnx-export bench', () => {
  it('--json prints the report, --svg and --out write the figure and the report', async () => {
    const svg = join(dir, 'fig.svg');
    const out = join(dir, 'report.json');
    const stdout = await cli([
      model,
      '--batch',
      '1,2',
      ...QUICK,
      '--json',
      '--svg',
      svg,
      '--out',
      out,
      '--label',
      'probe',
    ]);
    const report = JSON.parse(stdout) as LatencyReport;
    expect(report.kind).toBe('latency');
    expect(report.model.label).toBe('probe');
    expect(report.batches.map((b) => b.batchSize)).toEqual([1, 2]);
    expect(report.settings.intraOpThreads).toBe(1);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(report);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[\s\S]*batch 2/);
  });

  it('--baseline compares interleaved and prints the ratio table', async () => {
    const stdout = await cli([model, '--baseline', model, '--batch', '1', ...QUICK]);
    expect(stdout).toMatch(/per interleaved pair/);
    expect(stdout).toMatch(/batch {3}1: median \d\.\d{3} \[95% CI/);
  });

  it('--fixed-order is passed through as the diagnostic pair order', async () => {
    const r = JSON.parse(
      await cli([model, '--baseline', model, '--batch', '1', ...QUICK, '--fixed-order', '--json']),
    ) as ComparisonReport;
    expect(r.pairs[0]?.candidateFirstPairs).toBe(r.pairs[0]?.ratio.pairs);
  });

  it('rejects a bad batch list and a bad provider before running anything', async () => {
    vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    await expect(cli([model, '--batch', '1,x'])).rejects.toThrow(/exit 1/);
    await expect(cli([model, '--ep', 'tpu'])).rejects.toThrow(/exit 1/);
  });
});

describe('progress', () => {
  it('draws a bar in place on a terminal and plain lines per phase elsewhere', () => {
    const plain = new PassThrough() as unknown as NodeJS.WriteStream;
    let text = '';
    plain.write = ((c: string) => ((text += c), true)) as never;
    const p = progressReporter(plain);
    p.update({ phase: 'warmup', model: 'm', batchSize: 1, done: 1, total: 10 });
    p.update({ phase: 'warmup', model: 'm', batchSize: 1, done: 2, total: 10 });
    p.update({ phase: 'measure', model: 'm', batchSize: 1, done: 1, total: 10 });
    expect(text).toBe('m batch 1 warmup\nm batch 1 measure\n');

    const tty = new PassThrough() as unknown as NodeJS.WriteStream;
    let drawn = '';
    tty.isTTY = true;
    tty.write = ((c: string) => ((drawn += c), true)) as never;
    const bar = progressReporter(tty);
    bar.update({ phase: 'measure', model: 'm', batchSize: 32, done: 5, total: 10 });
    bar.end();
    expect(drawn).toContain('[############............] 5/10');
    expect(drawn.startsWith('\r')).toBe(true);
  });
});
