import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Bytes, sha256File } from '../../hashing/file-sha256';
import { hashFileInline, hashFileInWorker, WorkerHashError } from '../../hashing/worker-sha256';

const dir = mkdtempSync(join(tmpdir(), 'hashing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes that span several 8 MiB read chunks and end mid-chunk. */
function someBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
  return out;
}

describe('sha256File', () => {
  const bytes = someBytes(17 * 1024 * 1024 + 3);
  const path = join(dir, 'data.bin');
  writeFileSync(path, bytes);
  const expected = createHash('sha256').update(bytes).digest('hex');

  it('equals node:crypto over the same bytes, and counts them', async () => {
    expect(await sha256File(path)).toEqual({ sha256: expected, bytes: bytes.byteLength });
    expect(sha256Bytes(bytes)).toBe(expected);
  });

  it('the worker and inline variants agree with the streamed one', async () => {
    expect(await hashFileInWorker(path)).toEqual({ sha256: expected, bytes: bytes.byteLength, nonFinite: [] });
    expect(hashFileInline(path)).toEqual({ sha256: expected, bytes: bytes.byteLength, nonFinite: [] });
  });

  it('the worker reports ranges that fail the finite check, hashing the same bytes', async () => {
    const floats = new Float32Array([1, 2, 3, 4, 5, Number.NaN, 7, 8]);
    const file = join(dir, 'floats.bin');
    writeFileSync(file, new Uint8Array(floats.buffer));
    const ranges = [
      { offset: 0, length: 16, width: 4 as const },
      { offset: 16, length: 16, width: 4 as const },
    ];
    const finiteCheck = (v: Float32Array | Float64Array): boolean => v.every((x) => Number.isFinite(x));
    const result = await hashFileInWorker(file, { ranges, finiteCheck });
    expect(result).toEqual({ sha256: (await sha256File(file)).sha256, bytes: 32, nonFinite: [1] });
    expect(hashFileInline(file, { ranges, finiteCheck })).toEqual(result);
  });

  it('inline, a range longer than a read chunk is tested in every chunk, and a failing range is reported by index', () => {
    // 3 MiB of floats in three ranges (the middle one spans read chunks), one Inf near the end of the last.
    const floats = new Float32Array((3 * 1024 * 1024) / 4).fill(0.5);
    floats[floats.length - 3] = Number.POSITIVE_INFINITY;
    const file = join(dir, 'long-ranges.bin');
    writeFileSync(file, new Uint8Array(floats.buffer));
    const ranges = [
      { offset: 0, length: 1024, width: 4 as const },
      { offset: 1024, length: 2 * 1024 * 1024, width: 4 as const },
      { offset: 1024 + 2 * 1024 * 1024, length: 1024 * 1024 - 1024, width: 4 as const },
    ];
    const finiteCheck = (v: Float32Array | Float64Array): boolean => v.every((x) => Number.isFinite(x));
    const result = hashFileInline(file, { ranges, finiteCheck });
    expect(result).toEqual({
      sha256: sha256Bytes(new Uint8Array(floats.buffer)),
      bytes: floats.byteLength,
      nonFinite: [2],
    });
  });

  it("a missing file is a WorkerHashError that keeps the thread's error code", async () => {
    const err = await hashFileInWorker(join(dir, 'missing.bin')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerHashError);
    expect((err as WorkerHashError).failure).toMatchObject({ kind: 'error', cause: { code: 'ENOENT' } });
    const inline = (() => {
      try {
        return hashFileInline(join(dir, 'missing.bin'));
      } catch (e) {
        return e;
      }
    })();
    expect(inline).toBeInstanceOf(WorkerHashError);
    expect((inline as WorkerHashError).failure).toMatchObject({ kind: 'error', cause: { code: 'ENOENT' } });
  });
});
