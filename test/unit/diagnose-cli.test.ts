/**
 * Unit: `onnx-export diagnose` as a user runs it (the command's own parsing and printing), on the
 * small LocalizationNet fixture with one hidden-layer weight corrupted: the first divergence named
 * with its node, op and module path, the per-layer table, the SVG plot written, JSON on request, exit
 * code 1 on a divergence and 0 without; a missing file or an input the reference lacks is refused
 * naming it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { register } from '../../client/commands/diagnose';
import { runCommandInProcess } from './cli-in-process';
import type { Diagnosis } from '../../diagnose/diagnosis';
import { emitBundle } from '../../models';
import { tempDir } from './checkpoint-safetensors-writer';
import { seededHiddenWeights, writeCorrupted, type HiddenWeight } from './diagnose-seeded-corruption';
import { attentionFixtureBundle } from './attention-fixtures';
import { SMALL_BUNDLE } from './models-fixtures';

const dir = tempDir();
const clean = join(dir, 'clean.onnx');
const corrupted = join(dir, 'corrupted.onnx');
const reference = join(SMALL_BUNDLE, 'reference.safetensors');
let weight: HiddenWeight;

beforeAll(async () => {
  await emitBundle(SMALL_BUNDLE, clean);
  [weight] = (await seededHiddenWeights(clean, 1, 7)) as [HiddenWeight];
  await writeCorrupted(clean, corrupted, weight.initializer, 1);
});
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** Runs `onnx-export diagnose ...args` and returns stdout and the exit code it set. */
const diagnose = (...args: string[]) => runCommandInProcess(register, 'diagnose', args);

describe('onnx-export diagnose', () => {
  it('corrupted vs clean: exit 1, the corrupted layer named first, the table and the plot', async () => {
    const svg = join(dir, 'plot.svg');
    const { out, exitCode } = await diagnose(corrupted, clean, '--reference', reference, '--svg', svg);
    expect(exitCode).toBe(1);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^DIVERGES ${corrupted} vs ${clean} \\(graph; case \\(the only one\\); \\d+ tensors compared; MAE <= 0.00001, max abs <= 0.0001\\)$`,
      ),
    );
    expect(lines[1]).toContain(`first divergence at \`${weight.modulePath}\`: node ${weight.node} (`);
    expect(lines[2]).toMatch(/^\s+depth\s+layer\s+op\s+MAE\s+max abs\s+rel MAE\s+NaN\/Inf$/);
    expect(out).toContain(`${weight.modulePath}`);
    expect(lines.filter((l) => l.endsWith('<- first divergence'))).toHaveLength(1);
    expect(out).toContain(`  plot: ${svg}`);
    expect(readFileSync(svg, 'utf8')).toContain(`first divergence: ${weight.modulePath}`);
  });

  it('--json: the diagnosis as JSON; a graph against itself has no divergence and exits 0', async () => {
    const { out, exitCode } = await diagnose(clean, clean, '--json');
    expect(exitCode).toBe(0);
    const d = JSON.parse(out) as Diagnosis;
    expect(d.firstDivergence).toBeUndefined();
    expect(d.cases).toEqual(['synthetic']);
    expect(d.tensors.length).toBeGreaterThan(50);
  });

  it('refuses a missing graph, naming the file', async () => {
    const missing = join(dir, 'nope.onnx');
    await expect(diagnose(missing, clean)).rejects.toThrow(
      `${missing}: graph: expected an ONNX file, got no such file`,
    );
  });

  it("refuses a reference without one of the graph's inputs, naming the input", async () => {
    const other = join(await attentionFixtureBundle('triangulation_model'), 'reference.safetensors');
    await expect(diagnose(corrupted, clean, '--reference', other)).rejects.toThrow(/mel_spectrogram/);
  });
});
