/**
 * Our operator table (onnx/op-schemas.ts) against the onnx package's own schemas (the stack's
 * virtualenv, via scripts/onnx-op-schemas.py): for every op we know, at every opset from 13 to 23,
 * the op exists exactly when onnx says so, with the same number of inputs and outputs and the same
 * attributes (type and whether required). Servers: none; needs only the virtualenv.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { knownOpTypes, lookupSchema } from '../../onnx/op-schemas';

const root = resolve(__dirname, '../..');
/** The opsets op-schemas.ts claims to be exact for. */
const FIRST_OPSET = 13;
const LAST_OPSET = 23;

interface Reference {
  since: number;
  inputs: [number, number | null];
  outputs: [number, number | null];
  attributes: Record<string, { type: string; required: boolean }>;
}

/** Attribute types our IR holds; onnx's others (STRINGS, GRAPH…) can never appear in a graph we read. */
const IR_ATTRIBUTE_TYPES = new Set(['int', 'float', 'string', 'ints', 'floats', 'tensor']);

function onnxSchemas(ops: readonly string[]): Record<string, Record<string, Reference | null>> {
  const venv = execFileSync('bash', [join(root, 'scripts/ensure-python-venv.sh')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop() as string;
  const out = execFileSync(
    join(venv, 'bin/python'),
    [join(root, 'scripts/onnx-op-schemas.py'), String(FIRST_OPSET), String(LAST_OPSET), ...ops],
    { encoding: 'utf8', maxBuffer: 16 << 20 },
  );
  return JSON.parse(out) as Record<string, Record<string, Reference | null>>;
}

describe('onnx/op-schemas.ts agrees with the onnx package at opsets 13 to 23', () => {
  const ops = knownOpTypes();
  const reference = onnxSchemas(ops);

  it.each(ops)('%s', (opType) => {
    for (let opset = FIRST_OPSET; opset <= LAST_OPSET; opset++) {
      const want = reference[opType]?.[String(opset)] ?? null;
      const got = lookupSchema(opType, opset);
      const where = `${opType} at opset ${opset}`;
      if (want === null) {
        expect('problem' in got, `${where}: onnx has no such op`).toBe(true);
        continue;
      }
      if ('problem' in got) throw new Error(`${where}: onnx has it since ${want.since}, our table has none`);
      const s = got.schema;
      expect(s.since, `${where}: our entry starts after onnx's`).toBeLessThanOrEqual(want.since);
      expect(s.inputs, `${where}: inputs`).toEqual([want.inputs[0], want.inputs[1] ?? Infinity]);
      expect(s.outputs, `${where}: outputs`).toEqual([want.outputs[0], want.outputs[1] ?? Infinity]);
      const attributes = Object.fromEntries(
        Object.entries(want.attributes)
          .filter(([, a]) => IR_ATTRIBUTE_TYPES.has(a.type))
          .map(([name, a]) => [name, { type: a.type, required: a.required }]),
      );
      const ours = Object.fromEntries(
        Object.entries(s.attributes).map(([name, a]) => [name, { type: a.type, required: a.required ?? false }]),
      );
      expect(ours, `${where}: attributes`).toEqual(attributes);
    }
  });
});
