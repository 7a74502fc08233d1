/**
 * models/weight-tensors.ts: a float32 weight stays a file range of its weights file; a float16 or
 * bfloat16 weight (a half-precision checkpoint) becomes a lazy float32 tensor, widened only when loaded.
 */
import { describe, expect, it } from 'vitest';
import { TorchCheckpointFile } from '../../checkpoint';
import { float32Weight } from '../../models/weight-tensors';
import { Pickle, float32Bytes, writeCheckpoint } from './torch-checkpoint-writer';

describe('float32Weight', () => {
  it('F32 is a file range; F16 and BF16 are widened to float32 when loaded', async () => {
    const pickle = new Pickle()
      .emptyDict()
      .mark()
      .str('full')
      .tensor('FloatStorage', '0', 2, [2])
      .str('half')
      .tensor('HalfStorage', '1', 2, [1, 2])
      .str('brain')
      .tensor('BFloat16Storage', '2', 2, [2])
      .setitems()
      .stop();
    const storages = {
      '0': float32Bytes([1.5, -2]),
      '1': Buffer.from([0x00, 0x3c, 0x00, 0xc0]), // 1, -2
      '2': Buffer.from([0xc0, 0x3f, 0x80, 0xbf]), // 1.5, -1
    };
    const weights = await TorchCheckpointFile.open(writeCheckpoint(pickle, storages));
    const full = float32Weight(weights, 'full');
    expect(full.data).toEqual({ kind: 'file', path: weights.path, offset: weights.require('full').offset, length: 8 });

    const half = float32Weight(weights, 'half', [2]);
    expect({ dtype: half.dtype, dims: half.dims, kind: half.data.kind }).toEqual({
      dtype: 'float32',
      dims: [2],
      kind: 'lazy',
    });
    const load = async (t: typeof half) => {
      if (t.data.kind !== 'lazy') throw new Error('not lazy');
      const bytes = await t.data.load();
      return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
    };
    expect(await load(half)).toEqual([1, -2]);
    expect(await load(float32Weight(weights, 'brain'))).toEqual([1.5, -1]);
  });
});
