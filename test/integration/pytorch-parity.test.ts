/**
 * Parity against real PyTorch: builds LocalizationNet bundles with scripts/fixtures/make_localizationnet.py
 * (Debian's python3-torch/torchvision, run with /usr/bin/python3; randomised weights, BatchNorm stats
 * and layer_scale), emits them with our emitter at opsets 14, 17 and 20, runs them in onnxruntime-node
 * and asserts MAE <= 1e-6 against PyTorch's eval outputs. Also determinism and the CLI commands.
 * Servers: none (no Temporal, MinIO or MLflow). Needs /usr/bin/python3 with torch; without it the
 * test fails (it is not skipped).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../client/cli';
import { emitBundle } from '../../models';
import { runParity } from '../../parity';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const FIXTURE_SCRIPT = join(__dirname, '../../scripts/fixtures/make_localizationnet.py');
/** Issue 3's parity target: MAE against PyTorch on every configuration and opset. */
const PARITY_MAE = 1e-6;
/** Max abs error bound for these configs: ~20× the MAE target, float32 rounding through 18+ residual blocks. */
const PARITY_MAX_ABS = 2e-5;
const OPSETS = [14, 17, 20] as const;

interface Case {
  readonly name: string;
  readonly args: readonly string[];
  readonly samples: number;
}

const CASES: readonly Case[] = [
  { name: 'custom-2-stages', args: ['--depths', '1,1', '--dims', '8,16'], samples: 8 },
  { name: 'custom-3-stages', args: ['--depths', '1,2,1', '--dims', '12,20,28'], samples: 8 },
  { name: 'custom-4-stages', args: ['--depths', '2,1,3,1', '--dims', '16,24,32,48'], samples: 8 },
  { name: 'convnext_tiny', args: ['--backbone', 'convnext_tiny'], samples: 8 },
];

const root = mkdtempSync(join(tmpdir(), 'pytorch-parity-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const bundleDir = (c: Case) => join(root, c.name);
const measured: string[] = [];

beforeAll(async () => {
  // One at a time: torch already uses both cores.
  for (const [i, c] of CASES.entries()) {
    await run(PYTHON, [
      FIXTURE_SCRIPT,
      '--out',
      bundleDir(c),
      '--seed',
      String(11 + i),
      '-n',
      String(c.samples),
      ...c.args,
    ]);
  }
});

afterAll(() => {
  process.stdout.write(`\nparity against PyTorch (MAE positions / uncertainties):\n${measured.join('\n')}\n`);
});

describe.each(CASES)('$name', (c) => {
  it.each(OPSETS)('opset %i: MAE <= 1e-6 against PyTorch', async (opset) => {
    const out = join(bundleDir(c), `model-${opset}.onnx`);
    const emitted = await emitBundle(bundleDir(c), out, { opset });
    const report = await runParity(out, join(bundleDir(c), 'reference.safetensors'), {
      mae: PARITY_MAE,
      maxAbs: PARITY_MAX_ABS,
    });
    measured.push(
      `  ${c.name.padEnd(16)} opset ${opset}: ${report.outputs.positions!.mae.toExponential(2)} / ${report.outputs.uncertainties!.mae.toExponential(2)}  (max abs ${Math.max(report.outputs.positions!.maxAbs, report.outputs.uncertainties!.maxAbs).toExponential(2)}, ${emitted.nodes} nodes, emit ${emitted.seconds.toFixed(2)} s)`,
    );
    expect(report.samples).toBe(c.samples);
    expect(report.failures).toEqual([]);
    expect(report.outputs.positions!.mae).toBeLessThanOrEqual(PARITY_MAE);
    expect(report.outputs.uncertainties!.mae).toBeLessThanOrEqual(PARITY_MAE);
  });
});

describe('determinism and CLI (convnext_tiny)', () => {
  const tiny = CASES[3] as Case;

  it('two emissions of the same bundle and options give the same sha256 and bytes', async () => {
    const a = await emitBundle(bundleDir(tiny), join(root, 'a.onnx'));
    const b = await emitBundle(bundleDir(tiny), join(root, 'b.onnx'));
    expect(a.sha256).toBe(b.sha256);
    expect(readFileSync(join(root, 'a.onnx')).equals(readFileSync(join(root, 'b.onnx')))).toBe(true);
  });

  it('onnx-export emit --json and parity (passing, then failing a 1e-15 tolerance with exit code 1)', async () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const out = join(root, 'cli.onnx');
    try {
      await main(['node', 'onnx-export', 'emit', bundleDir(tiny), '-o', out, '--opset', '17', '--json']);
      const emitted = JSON.parse(writes.join('')) as { sha256: string; opset: number };
      expect(emitted.opset).toBe(17);
      writes.length = 0;
      await main([
        'node',
        'onnx-export',
        'parity',
        out,
        '--reference',
        join(bundleDir(tiny), 'reference.safetensors'),
        '--json',
      ]);
      expect((JSON.parse(writes.join('')) as { passed: boolean }).passed).toBe(true);
      expect(process.exitCode ?? 0).toBe(0);
      writes.length = 0;
      await main([
        'node',
        'onnx-export',
        'parity',
        out,
        '--reference',
        join(bundleDir(tiny), 'reference.safetensors'),
        '--mae',
        '1e-15',
      ]);
      expect(writes.join('')).toMatch(/^FAIL /);
      expect(process.exitCode).toBe(1);
    } finally {
      spy.mockRestore();
      process.exitCode = 0;
    }
  });
});
