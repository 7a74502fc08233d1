import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CheckpointError, MAX_HEADER_BYTES, SafetensorsFile, findNonFinite } from '../../checkpoint';
import { encode, f32, layout, writeTemp, type RawTensor } from './checkpoint-safetensors-writer';

const base: Record<string, RawTensor> = {
  'a.weight': { dtype: 'F32', shape: [2, 3], data: f32([1, 2, 3, 4, 5, 6]) },
  'a.num_batches_tracked': { dtype: 'I64', shape: [], data: new Uint8Array(new BigInt64Array([7n]).buffer) },
  'b.bias': { dtype: 'F32', shape: [2], data: f32([0.5, -0.5]) },
};

async function refusal(bytes: Uint8Array): Promise<CheckpointError> {
  const path = writeTemp(bytes);
  const err = await SafetensorsFile.open(path)
    .then((f) => f.scan({ finite: true }))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(CheckpointError);
  const ce = err as CheckpointError;
  expect(ce.file).toBe(path);
  expect(ce.message).toContain(path);
  return ce;
}

function withEntry(name: string, patch: Record<string, unknown>): Uint8Array {
  const { header, data } = layout(base);
  header[name] = { ...(header[name] as object), ...patch };
  return encode(header, data);
}

describe('SafetensorsFile: a valid file', () => {
  it('reads the header, ranges, tensor bytes and metadata; sha256 covers every byte', async () => {
    const { header, data } = layout(base, { format: 'pt' });
    const bytes = encode(header, data);
    const path = writeTemp(bytes);
    const file = await SafetensorsFile.open(path);
    expect(file.tensors.map((t) => t.name)).toEqual(['a.weight', 'a.num_batches_tracked', 'b.bias']);
    expect(file.metadata).toEqual({ format: 'pt' });
    const headerLen = bytes.length - data.length;
    expect(file.range('b.bias')).toEqual({ path, offset: headerLen + 32, length: 8 });
    expect(Array.from(await file.readFloat32('a.weight'))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(file.get('a.num_batches_tracked')).toMatchObject({ dtype: 'I64', shape: [] });
    const { sha256 } = await file.scan({ sha256: true, finite: true });
    expect(sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('reads rows of an F32 tensor along its first axis, and refuses another dtype', async () => {
    const { header, data } = layout(base);
    const file = await SafetensorsFile.open(writeTemp(encode(header, data)));
    expect(Array.from(await file.readFloat32Rows('a.weight', 1, 1))).toEqual([4, 5, 6]);
    expect(Array.from(await file.readFloat32Rows('a.weight', 0, 2))).toEqual([1, 2, 3, 4, 5, 6]);
    await expect(file.readFloat32Rows('a.num_batches_tracked', 0, 1)).rejects.toThrow(
      /tensor 'a.num_batches_tracked'.dtype: expected F32, got I64/,
    );
  });

  it('names a missing tensor', async () => {
    const { header, data } = layout(base);
    const file = await SafetensorsFile.open(writeTemp(encode(header, data)));
    expect(() => file.range('nope')).toThrow(/tensor 'nope': expected present, got missing/);
  });

  it('accepts an empty file header "{}" with no tensors, and zero-size tensors', async () => {
    const { header, data } = layout({ empty: { dtype: 'F32', shape: [0, 4], data: new Uint8Array() }, ...base });
    const file = await SafetensorsFile.open(writeTemp(encode(header, data)));
    expect(file.get('empty')?.length).toBe(0);
    expect((await SafetensorsFile.open(writeTemp(encode({}, new Uint8Array())))).tensors).toEqual([]);
  });
});

describe('SafetensorsFile: refusals name the file, the tensor or field, expected and actual', () => {
  it('truncated file (shorter than the 8-byte length prefix)', async () => {
    const err = await refusal(new Uint8Array([1, 2, 3]));
    expect(err.subject).toBe('header length');
    expect(err.message).toMatch(/truncated/);
  });

  it('header length larger than the file', async () => {
    const { header, data } = layout(base);
    const bytes = encode(header, data);
    const err = await refusal(encode(header, data, { headerLength: BigInt(bytes.length) }));
    expect(err.subject).toBe('header length');
    expect(err.message).toMatch(/past the end of the file/);
  });

  it('absurd header length is refused before allocating', async () => {
    const err = await refusal(encode({}, new Uint8Array(), { headerLength: 1n << 62n }));
    expect(err.expected).toBe(`at most ${MAX_HEADER_BYTES} bytes`);
    expect(err.actual).toBe(`${1n << 62n} bytes`);
  });

  it('non-JSON header', async () => {
    const err = await refusal(encode(undefined, new Uint8Array(), { rawHeader: '{"a": [1, 2' }));
    expect(err.subject).toBe('header');
    expect(err.actual).toBe('invalid JSON');
  });

  it('JSON that is not an object', async () => {
    expect((await refusal(encode([1, 2], new Uint8Array()))).expected).toBe('a JSON object');
  });

  it('unknown dtype', async () => {
    const err = await refusal(withEntry('b.bias', { dtype: 'F12' }));
    expect(err.subject).toBe("tensor 'b.bias'.dtype");
    expect(err.actual).toBe('"F12"');
  });

  it('byte range that does not match shape × dtype', async () => {
    const err = await refusal(withEntry('a.weight', { shape: [3, 3] }));
    expect(err.subject).toBe("tensor 'a.weight'.data_offsets");
    expect(err.expected).toBe('36 bytes (F32 [3, 3])');
    expect(err.actual).toBe('24 bytes [0, 24]');
  });

  it('overlapping ranges', async () => {
    const { header, data } = layout(base);
    header['b.bias'] = { dtype: 'F32', shape: [2], data_offsets: [28, 36] };
    const err = await refusal(encode(header, data));
    expect(err.message).toMatch(/overlaps tensor 'a.num_batches_tracked'/);
    expect(err.subject).toBe("tensor 'b.bias'.data_offsets");
  });

  it('a hole between tensors', async () => {
    const { header, data } = layout(base);
    header['b.bias'] = { dtype: 'F32', shape: [2], data_offsets: [36, 44] };
    const err = await refusal(encode(header, Buffer.concat([data, new Uint8Array(4)])));
    expect(err.message).toMatch(/hole of 4 bytes/);
    expect(err.expected).toBe('begin 32');
  });

  it('a range past the end of the file', async () => {
    const { header, data } = layout(base);
    const err = await refusal(encode(header, data.subarray(0, data.length - 4)));
    expect(err.subject).toBe("tensor 'b.bias'.data_offsets");
    expect(err.message).toMatch(/past the end of the file/);
  });

  it('trailing bytes after the last tensor', async () => {
    const { header, data } = layout(base);
    const err = await refusal(encode(header, Buffer.concat([data, new Uint8Array(8)])));
    expect(err.subject).toBe('data section');
  });

  it('unknown entry field, bad shape, bad offsets, bad metadata', async () => {
    expect((await refusal(withEntry('a.weight', { extra: 1 }))).subject).toBe("tensor 'a.weight'.extra");
    expect((await refusal(withEntry('a.weight', { shape: [2, -3] }))).subject).toBe("tensor 'a.weight'.shape");
    expect((await refusal(withEntry('a.weight', { data_offsets: [24, 0] }))).subject).toBe(
      "tensor 'a.weight'.data_offsets",
    );
    const { header, data } = layout(base);
    header.__metadata__ = { seed: 3 };
    expect((await refusal(encode(header, data))).subject).toBe('__metadata__.seed');
  });

  it.each([
    ['F32 NaN', 'F32', f32([1, 2, Number.NaN, 4]), 2],
    ['F32 +Inf', 'F32', f32([Number.POSITIVE_INFINITY, 2, 3, 4]), 0],
    ['F32 -Inf', 'F32', f32([1, 2, 3, Number.NEGATIVE_INFINITY]), 3],
    ['F64 NaN', 'F64', new Uint8Array(Float64Array.from([1, Number.NaN]).buffer), 1],
    ['F16 Inf', 'F16', new Uint8Array(Uint16Array.from([0x3c00, 0x7c00]).buffer), 1],
    ['BF16 NaN', 'BF16', new Uint8Array(Uint16Array.from([0x3f80, 0x3f80, 0xffc1]).buffer), 2],
  ])('non-finite weights: %s, named with the tensor and element', async (_label, dtype, data, index) => {
    const elements = data.length / (dtype === 'F64' ? 8 : dtype === 'F32' ? 4 : 2);
    const { header, data: packed } = layout({ ...base, 'head.8.weight': { dtype, shape: [elements], data } });
    const err = await refusal(encode(header, packed));
    expect(err.subject).toBe("tensor 'head.8.weight'");
    expect(err.actual).toBe(`NaN or Inf at element ${index}`);
  });
});

describe('findNonFinite', () => {
  it('scans unaligned views and leaves integer tensors alone', () => {
    const bytes = new Uint8Array(4 * 5 + 1);
    bytes.set(f32([1, 2, 3, Number.NaN, 5]), 1);
    expect(findNonFinite(bytes.subarray(1), 'F32')).toBe(3);
    expect(findNonFinite(new Uint8Array([0xff, 0xff, 0xff, 0xff]), 'I32')).toBe(-1);
    expect(findNonFinite(f32([0, -0, 3.4e38, -1e-45]), 'F32')).toBe(-1);
    expect(findNonFinite(f32([1, 2, 3, 4, 5, 6, 7, 8, Number.POSITIVE_INFINITY]), 'F32')).toBe(8);
    expect(
      findNonFinite(new Uint8Array(Float64Array.from([1, 2, 3, 4, 5, Number.NEGATIVE_INFINITY]).buffer), 'F64'),
    ).toBe(5);
    expect(findNonFinite(new Uint8Array(Float64Array.from([1, -0, 1e308]).buffer), 'F64')).toBe(-1);
  });
});
