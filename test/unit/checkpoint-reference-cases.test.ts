/**
 * checkpoint/reference-cases: reference files of one case and of several, checked against a
 * signature with float32, int64 and bool tensors and symbolic dimensions, read by rows; and every
 * refusal, naming the file, the case, the tensor, what was expected and what was found. No servers.
 */
import { describe, expect, it } from 'vitest';
import { openReferenceCases, ReferenceCaseError, type ReferenceProblem } from '../../checkpoint';
import type { ModelSignature } from '../../common/model-signature';
import { encode, layout, writeTemp, type RawTensor } from './checkpoint-safetensors-writer';

/** Two inputs over receivers (features and ids), a mask, one output: the shape of a multi-receiver model. */
const SIGNATURE: ModelSignature = {
  inputs: [
    { name: 'features', dtype: 'float32', shape: [-1, -1, 2] },
    { name: 'ids', dtype: 'int64', shape: [-1, -1] },
    { name: 'mask', dtype: 'bool', shape: [-1, -1] },
  ],
  outputs: [{ name: 'position', dtype: 'float32', shape: [-1, 3] }],
  dims: {
    features: ['batch', 'receivers', 2],
    ids: ['batch', 'receivers'],
    mask: ['batch', 'receivers'],
    position: ['batch', 3],
  },
};

const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const F32 = (shape: number[], at = (i: number) => i): RawTensor => ({
  dtype: 'F32',
  shape,
  data: new Uint8Array(Float32Array.from({ length: count(shape) }, (_, i) => at(i)).buffer),
});
const I64 = (shape: number[], at = (i: number) => i): RawTensor => ({
  dtype: 'I64',
  shape,
  data: new Uint8Array(BigInt64Array.from({ length: count(shape) }, (_, i) => BigInt(at(i))).buffer),
});
const BOOL = (shape: number[], at = (i: number) => i % 2): RawTensor => ({
  dtype: 'BOOL',
  shape,
  data: Uint8Array.from({ length: count(shape) }, (_, i) => at(i)),
});

/** One case's tensors: B samples over N receivers. */
function caseTensors(prefix: string, b: number, n: number): Record<string, RawTensor> {
  return {
    [`${prefix}features`]: F32([b, n, 2], (i) => i / 10),
    [`${prefix}ids`]: I64([b, n], (i) => 100 + i),
    [`${prefix}mask`]: BOOL([b, n]),
    [`${prefix}position`]: F32([b, 3]),
  };
}

function file(tensors: Record<string, RawTensor>): string {
  const { header, data } = layout(tensors);
  return writeTemp(encode(header, data), 'reference.safetensors');
}

async function refusal(
  tensors: Record<string, RawTensor>,
  signature = SIGNATURE,
): Promise<{ err: ReferenceCaseError; path: string }> {
  const path = file(tensors);
  const err = await openReferenceCases(path, signature).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ReferenceCaseError);
  return { err: err as ReferenceCaseError, path };
}

describe('openReferenceCases', () => {
  it('reads a one-case file: rows of F32, I64 and BOOL as typed arrays, the dims it has, the keys it does not use', async () => {
    const path = file({ ...caseTensors('', 3, 4), note: F32([1]) });
    const ref = await openReferenceCases(path, SIGNATURE);
    expect(ref.form).toBe('one case');
    expect(ref.samples).toBe(3);
    expect(ref.unused).toEqual(['note']);
    const [c] = ref.cases;
    expect(c).toMatchObject({ name: '', batch: 3, dims: { batch: 3, receivers: 4 } });
    expect([...(c?.tensors.keys() ?? [])]).toEqual(['features', 'ids', 'mask', 'position']);
    const features = await ref.rows(c!, 'features', 1, 2);
    expect(features).toBeInstanceOf(Float32Array);
    expect([...features]).toEqual(Array.from({ length: 16 }, (_, i) => Math.fround((8 + i) / 10)));
    const ids = await ref.rows(c!, 'ids', 2, 1);
    expect(ids).toBeInstanceOf(BigInt64Array);
    expect([...ids]).toEqual([108n, 109n, 110n, 111n]);
    const mask = await ref.rows(c!, 'mask', 0, 1);
    expect(mask).toBeInstanceOf(Uint8Array);
    expect([...mask]).toEqual([0, 1, 0, 1]);
  });

  it('reads several cases in name order, each with its own batch and receivers', async () => {
    const path = file({ ...caseTensors('r7/', 2, 7), ...caseTensors('r4/', 5, 4), 'r4/backbone.0/Conv': F32([5, 1]) });
    const ref = await openReferenceCases(path, SIGNATURE);
    expect(ref.form).toBe('several cases');
    expect(ref.cases.map((c) => [c.name, c.batch, c.dims.receivers])).toEqual([
      ['r4', 5, 4],
      ['r7', 2, 7],
    ]);
    expect(ref.samples).toBe(7);
    expect(ref.unused).toEqual(['r4/backbone.0/Conv']);
    expect([...(await ref.rows(ref.cases[1]!, 'ids', 1, 1))]).toEqual([107n, 108n, 109n, 110n, 111n, 112n, 113n]);
  });

  it('with tensors: inputs, needs and checks only the inputs (a calibration file)', async () => {
    const { position: _omitted, ...inputs } = caseTensors('', 2, 3);
    const ref = await openReferenceCases(file(inputs), SIGNATURE, { tensors: 'inputs' });
    expect([...(ref.cases[0]?.tensors.keys() ?? [])]).toEqual(['features', 'ids', 'mask']);
  });

  const r4 = caseTensors('r4/', 2, 4);
  it.each<[string, Record<string, RawTensor>, ReferenceProblem, string]>([
    [
      'a case without an input',
      { ...caseTensors('r7/', 2, 7), ...r4, 'r4/mask': undefined as unknown as RawTensor },
      'missing',
      "case 'r4': tensor 'r4/mask': expected present (BOOL [N, receivers] with N >= 1), got missing",
    ],
    [
      'a case without an output',
      { ...r4, 'r4/position': undefined as unknown as RawTensor },
      'missing',
      "case 'r4': tensor 'r4/position': expected present (F32 [N, 3] with N >= 1), got missing",
    ],
    [
      'ids of another dtype',
      { ...r4, 'r4/ids': { ...I64([2, 4]), dtype: 'I32', data: new Uint8Array(32) } },
      'dtype',
      "case 'r4': tensor 'r4/ids'.dtype: expected I64 (the graph's input 'ids' is int64), got I32",
    ],
    [
      'a mask as floats',
      { ...r4, 'r4/mask': F32([2, 4]) },
      'dtype',
      "case 'r4': tensor 'r4/mask'.dtype: expected BOOL (the graph's input 'mask' is bool), got F32",
    ],
    [
      'another rank',
      { ...r4, 'r4/features': F32([2, 8]) },
      'rank',
      "case 'r4': tensor 'r4/features'.shape: expected [N, receivers, 2] with N >= 1, got [2, 8]",
    ],
    [
      'another fixed dimension',
      { ...r4, 'r4/position': F32([2, 2]) },
      'fixed-dim',
      "case 'r4': tensor 'r4/position'.shape: expected [2, 3], got [2, 2]",
    ],
    [
      'tensors that disagree on the batch',
      { ...r4, 'r4/mask': BOOL([3, 4]) },
      'batch',
      "case 'r4': tensor 'r4/mask'.shape: expected [2, 4]: the case's batch 2, as 'r4/features', got [3, 4]",
    ],
    [
      'tensors that disagree on the receivers',
      { ...r4, 'r4/ids': I64([2, 5]) },
      'symbolic-dim',
      "case 'r4': tensor 'r4/ids'.shape: expected [N, receivers=4]: receivers is 4 in 'r4/features', got [2, 5]",
    ],
    [
      'an empty batch',
      { ...caseTensors('r4/', 0, 4) },
      'empty-batch',
      "case 'r4': tensor 'r4/features'.shape: expected [N, receivers, 2] with N >= 1, got [0, 4, 2]",
    ],
    [
      'both key forms',
      { ...r4, features: F32([2, 4, 2]) },
      'mixed-forms',
      "keys: expected the graph's tensor names (one case) or '<case>/<name>' for every key (several cases), got 'features' beside 'r4/features'",
    ],
    [
      'a case name with a space',
      { ...r4, 'r 4/features': F32([2, 4, 2]) },
      'case-name',
      "tensor 'r 4/features': expected '<case>/<name>' with a case name of letters, digits, '_', '.' or '-', got case name 'r 4'",
    ],
  ])('refuses %s, naming the file, the case and the tensor', async (_label, tensors, problem, message) => {
    const present = Object.fromEntries(Object.entries(tensors).filter(([, t]) => t !== undefined));
    const { err, path } = await refusal(present);
    expect(err.problem).toBe(problem);
    expect(err.message).toBe(`${path}: ${message}`);
  });

  it('refuses a one-case file the same way, without a case', async () => {
    const { mask: _dropped, ...rest } = caseTensors('', 2, 4);
    const { err, path } = await refusal(rest);
    expect(err.caseName).toBeUndefined();
    expect(err.message).toBe(`${path}: tensor 'mask': expected present (BOOL [N, receivers] with N >= 1), got missing`);
  });

  it('refuses a graph tensor no reference can hold (float16 is reserved)', async () => {
    const signature: ModelSignature = {
      ...SIGNATURE,
      outputs: [{ name: 'position', dtype: 'float16', shape: [-1, 3] }],
    };
    const { err } = await refusal(caseTensors('', 2, 4), signature);
    expect(err.problem).toBe('graph-dtype');
    expect(err.subject).toBe("graph output 'position'");
    expect(err.actual).toBe('float16');
  });
});
