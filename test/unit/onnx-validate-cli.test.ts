import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../client/commands/validate';
import { runCommandInProcess } from './cli-in-process';
import { serializeModel } from '../../onnx/encode';
import { writeModel } from '../../onnx/write-model';
import { brokenCases, tinyModel } from './onnx-test-models';

const dir = mkdtempSync(join(tmpdir(), 'onnx-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** Runs `onnx-export validate ...args` and returns stdout and the exit code it set. */
const validate = (...args: string[]) => runCommandInProcess(register, 'validate', args);

describe('onnx-export validate', () => {
  it('a valid model: exit 0, its inputs and outputs with inferred shapes', async () => {
    const path = join(dir, 'ok.onnx');
    await writeModel(tinyModel(17), path);
    const { out, exitCode } = await validate(path);
    expect(exitCode).toBe(0);
    expect(out).toContain(`${path}: valid\n`);
    expect(out).toContain('input  mel_spectrogram float32 [batch_size, 2, 8, 4]');
    expect(out).toContain('output positions float32 [batch_size, 2]');
  });

  it('an invalid model: exit 1, every problem listed, the file named', async () => {
    const cases = brokenCases();
    const unsorted = cases.find((c) => c.kind === 'topological-order')!.model;
    const badShape = cases.find((c) => c.name === 'an output of the wrong shape')!.model;
    const badAttr = cases.find((c) => c.kind === 'attribute' && c.name.includes('wrong type'))!.model;
    // Two independent problems in one model: a wrong attribute type and a wrong declared shape.
    const model = { ...badAttr, graph: { ...badAttr.graph, outputs: badShape.graph.outputs } };
    const path = join(dir, 'bad.onnx');
    await writeModel(model, path);
    const { out, exitCode } = await validate(path);
    expect(exitCode).toBe(1);
    expect(out).toContain(`${path}: invalid, 2 problems:`);
    expect(out).toContain("  - node 'flatten/Flatten' (Flatten): attribute 'axis' must be INT, got FLOAT");
    expect(out).toContain(
      "  - node 'position_head.0/Gemm' (Gemm): graph output 'positions': declared shape [batch_size, 3], inferred [batch_size, 2]",
    );
    expect(out).toContain('output positions float32 [batch_size, 3] (inferred [batch_size, 2])');
    await writeModel(unsorted, join(dir, 'unsorted.onnx'));
    expect((await validate(join(dir, 'unsorted.onnx'))).exitCode).toBe(1);
  });

  it('--json: the report as JSON, problems with node and kind', async () => {
    const c = brokenCases().find((x) => x.kind === 'unknown-op')!;
    const path = join(dir, 'unknown.onnx');
    writeFileSync(path, await serializeModel(c.model));
    const { out, exitCode } = await validate(path, '--json');
    expect(exitCode).toBe(1);
    const report = JSON.parse(out) as {
      ok: boolean;
      path: string;
      problems: { kind: string; node?: string; message: string }[];
      sha256: string;
    };
    expect(report).toMatchObject({ ok: false, path });
    expect(report.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'unknown-op', node: c.node, opType: 'Frobnicate' }),
    ]);
  });

  it('a file that is not ONNX: exit 1 with a read problem naming the file', async () => {
    const path = join(dir, 'garbage.onnx');
    writeFileSync(path, Buffer.from('this is not a protobuf\xff\xff\xff\xff', 'latin1'));
    const { out, exitCode } = await validate(path);
    expect(exitCode).toBe(1);
    expect(out).toMatch(
      new RegExp(
        `^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: invalid, 1 problem:\n  - ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `,
      ),
    );
  });

  it('a missing file: the error names it', async () => {
    await expect(validate(join(dir, 'absent.onnx'))).rejects.toThrow(/absent\.onnx: no such file$/);
  });
});
