/**
 * Integration (MLflow's own Python client in the stack's virtualenv; no servers): the MLmodel we write
 * for a graph with int64 and bool inputs is one MLflow reads back with those dtypes, and its pyfunc
 * and onnx flavors predict on every case of a several-case reference, feeding ids and masks. The model
 * directory is rendered by registry/model-directory into a local folder, which MLflow loads as a model
 * URI.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { graphSignature } from '../../onnx/graph-signature';
import { readModel } from '../../onnx/serialize-read';
import { renderMlmodel, renderSupportFiles } from '../../registry/model-directory';
import { tempDir } from '../unit/checkpoint-safetensors-writer';
import { receiverCase, receiverGraph, receiverTensors, writeTensors } from '../unit/signature-test-graphs';

const ROOT = join(__dirname, '../..');
type Specs = { name: string; dtype: string; shape: number[] }[];

function python(script: string, args: string[]): unknown {
  const venv = execFileSync('bash', [join(ROOT, 'scripts/ensure-python-venv.sh')], { encoding: 'utf8' });
  const bin = join(venv.trim().split('\n').pop() ?? '', 'bin/python');
  const out = execFileSync(bin, ['-P', join(ROOT, 'test/python', script), ...args], {
    encoding: 'utf8',
    cwd: tempDir(),
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}');
}

describe('an MLmodel with int64 and bool inputs (MLflow client)', () => {
  let dir: string;
  let reference: string;

  beforeAll(async () => {
    const model = await receiverGraph();
    const signature = graphSignature(await readModel(model));
    dir = tempDir();
    copyFileSync(model, join(dir, 'model.onnx'));
    const input = { modelName: 'receivers', sha256: 'a'.repeat(64), bytes: 1, signature, opset: 17 };
    const created = new Date('2026-01-01T00:00:00Z');
    for (const f of renderSupportFiles(input, created)) writeFileSync(join(dir, f.name), f.body);
    writeFileSync(join(dir, 'MLmodel'), renderMlmodel(input, created, 1));
    reference = writeTensors({
      ...receiverTensors(receiverCase(3, 4, 31), 'r4/'),
      ...receiverTensors(receiverCase(2, 7, 32), 'r7/'),
    });
  });

  it('is read back by mlflow.models.get_model_info with every input and its dtype', () => {
    const read = python('mlflow_signature_check.py', [dir]) as { inputs: Specs; outputs: Specs };
    expect(read.inputs).toEqual([
      { name: 'features', dtype: 'float32', shape: [-1, -1, 6] },
      { name: 'ids', dtype: 'int64', shape: [-1, -1] },
      { name: 'mask', dtype: 'bool', shape: [-1, -1] },
    ]);
    expect(read.outputs).toEqual([
      { name: 'position', dtype: 'float32', shape: [-1, 3] },
      { name: 'valid', dtype: 'bool', shape: [-1, -1] },
    ]);
  });

  it('predicts through mlflow.pyfunc and mlflow.onnx on every reference case', () => {
    const report = python('mlflow_load_check.py', [dir, reference, '1e-4', '1e-5']) as {
      ok: boolean;
      pyfunc: Record<string, { max_abs: number }>;
      onnx: Record<string, { max_abs: number }>;
    };
    expect(Object.keys(report.pyfunc).sort()).toEqual(['r4/position', 'r4/valid', 'r7/position', 'r7/valid']);
    expect(Object.keys(report.onnx).sort()).toEqual(Object.keys(report.pyfunc).sort());
    expect(report.ok).toBe(true);
  });
});
