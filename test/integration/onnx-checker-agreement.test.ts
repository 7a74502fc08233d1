/**
 * Our checker vs the reference: `onnx.checker.check_model(path, full_check=True)` (onnx from PyPI,
 * in the stack's virtualenv, via scripts/onnx-check.py) must agree on valid emitted models and on
 * each deliberately broken one. Servers: none; needs only the virtualenv (made on first use).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { onnx } from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitBundle } from '../../models';
import { checkModel } from '../../onnx/checker';
import type { Problem } from '../../onnx/checker';
import { serializeModel } from '../../onnx/encode';
import { readModel } from '../../onnx/serialize-read';
import { writeModel } from '../../onnx/write-model';
import { quantizeOnnxFile } from '../../quantize';
import { SMALL_BUNDLE } from '../unit/models-fixtures';
import { brokenCases, tinyModel } from '../unit/onnx-test-models';
import type { BrokenCase } from '../unit/onnx-test-models';

const root = resolve(__dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'onnx-agreement-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Verdict {
  path: string;
  ok: boolean;
  error: string | null;
}

/** Runs onnx.checker on all paths in one Python process (start-up dominates the cost). */
function onnxChecker(paths: readonly string[]): Map<string, Verdict> {
  const venv = execFileSync('bash', [join(root, 'scripts/ensure-python-venv.sh')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop() as string;
  const out = execFileSync(join(venv, 'bin/python'), [join(root, 'scripts/onnx-check.py'), ...paths], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  return new Map((JSON.parse(out) as Verdict[]).map((v) => [v.path, v]));
}

/** Serializes a case; the wrong-size case is made by truncating raw_data in the protobuf. */
async function writeCase(c: BrokenCase, path: string): Promise<void> {
  const bytes = await serializeModel(c.model);
  const t = c.truncateInitializer;
  if (t === undefined) {
    writeFileSync(path, bytes);
    return;
  }
  const proto = onnx.ModelProto.decode(bytes);
  const tensor = proto.graph?.initializer?.find((x) => x.name === t.name);
  if (!tensor) throw new Error(`case '${c.name}': no initializer '${t.name}' to truncate`);
  tensor.rawData = (tensor.rawData ?? new Uint8Array(0)).subarray(0, t.toBytes);
  writeFileSync(path, onnx.ModelProto.encode(proto).finish());
}

const validModels = [14, 15, 16, 17, 18, 19, 20, 21].map((opset) => ({
  name: `tiny opset ${opset}`,
  file: `valid-${opset}.onnx`,
  opset,
}));
/** Our emitted LocalizationNet (the committed small bundle): every opset's graph shape, and external data. */
const emittedModels = [14, 17, 20, 21]
  .map((opset) => ({ file: `localizationnet-${opset}.onnx`, opset, externalData: false }))
  .concat([{ file: 'localizationnet-17-external.onnx', opset: 17, externalData: true }]);
/** The int8 QDQ variant of each emitted graph (quantize/), calibrated on the bundle's reference inputs. */
const int8Models = [14, 17, 20, 21].map((opset) => ({ file: `localizationnet-${opset}-int8.onnx`, opset }));
const cases = brokenCases();
const caseFile = (i: number): string => join(dir, `broken-${i}.onnx`);

let reference: Map<string, Verdict>;
const ours = new Map<string, readonly Problem[]>();

beforeAll(async () => {
  const paths: string[] = [];
  for (const v of validModels) {
    const path = join(dir, v.file);
    await writeModel(tinyModel(v.opset), path);
    paths.push(path);
  }
  for (const e of emittedModels) {
    const path = join(dir, e.file);
    await emitBundle(SMALL_BUNDLE, path, { opset: e.opset, externalData: e.externalData });
    paths.push(path);
  }
  for (const q of int8Models) {
    const path = join(dir, q.file);
    await quantizeOnnxFile({
      modelPath: join(dir, `localizationnet-${q.opset}.onnx`),
      calibrationPath: join(SMALL_BUNDLE, 'reference.safetensors'),
      outputPath: path,
    });
    paths.push(path);
  }
  const external = join(dir, 'valid-external.onnx');
  await writeModel(tinyModel(17), external, { externalData: 'always' });
  paths.push(external);
  for (const [i, c] of cases.entries()) {
    await writeCase(c, caseFile(i));
    paths.push(caseFile(i));
  }
  // Both checkers see the same bytes: ours reads the file back, not the in-memory model.
  for (const p of paths) ours.set(p, checkModel(await readModel(p)).problems);
  reference = onnxChecker(paths);
  if (process.env.ONNX_AGREEMENT_DEBUG) for (const v of reference.values()) console.log(v.path, v.error);
});

describe('our checker and onnx.checker(full_check=True) agree', () => {
  it.each([
    ...validModels.map((v) => v.file),
    'valid-external.onnx',
    ...emittedModels.map((e) => e.file),
    ...int8Models.map((q) => q.file),
  ])('%s: both valid', (file) => {
    const path = join(dir, file);
    expect(reference.get(path)).toEqual({ path, ok: true, error: null });
    expect(ours.get(path)).toEqual([]);
  });

  it.each(cases.map((c, i) => [c.name, i] as const))('%s: both invalid', (_, i) => {
    const c = cases[i] as BrokenCase;
    const path = caseFile(i);
    const theirs = reference.get(path);
    const problems = ours.get(path) ?? [];
    expect(theirs?.ok, `onnx.checker accepted ${c.name}`).toBe(false);
    const match = problems.find((p) => p.kind === c.kind && p.message.includes(c.message));
    expect(
      match,
      `ours did not report "${c.message}"; it said:\n${problems.map((p) => p.message).join('\n')}`,
    ).toBeDefined();
    // For the same reason (messages of the pinned onnx, scripts/python-requirements.txt)…
    expect(theirs?.error).toMatch(ONNX_SAYS[c.name] ?? /no expectation for this case/);
    // …and where onnx names a node, it is the one we blame.
    if (c.node !== undefined && NODE_NAMED_BY_ONNX.has(c.kind)) expect(theirs?.error).toContain(c.node);
  });
});

const ONNX_SAYS: Readonly<Record<string, RegExp>> = {
  'unsorted nodes': /must be topologically sorted/,
  'an undefined input': /must be topologically sorted, however input 'backbone\.0\.0\.0\/Conv_output_7'/,
  'a name produced twice': /single static assignment \(SSA\) form/,
  'a wrong initializer size':
    /position_head\.0\.weight\) raw_data size \(28 bytes\) is too small .*\(32 bytes required\)/,
  'an unknown op': /No Op registered for Frobnicate with domain_version of 17/,
  'an op newer than the opset (Gelu at 17)': /No Op registered for Gelu with domain_version of 17/,
  'a missing required attribute': /Required attribute 'to' is missing/,
  'an output of the wrong shape': /Inferred shape and existing shape differ in dimension 1: \(2\) vs \(3\)/,
  'an untyped graph output': /Field 'type' of 'value_info' is required but missing/,
  'an attribute of the wrong type': /Mismatched attribute type in 'flatten\/Flatten : axis'/,
  'mismatched inner dimensions': /Dimension mismatch in unification between 2 and 4/,
};

/** The kinds of problem whose onnx.checker message names the offending node (SSA and size errors don't). */
const NODE_NAMED_BY_ONNX = new Set(['topological-order', 'undefined-input', 'unknown-op', 'attribute', 'shape']);
