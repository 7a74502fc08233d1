/**
 * Unit: alignLayout puts a baseline tensor in the candidate's axis order when that order is the only
 * one that fits (channels-last to channels-first, [N, C, 1, 1] to [N, C]), takes rows stacked
 * another way as they are ([B, N, N, C] and [B·N·N, C]), and refuses when sizes repeat, the
 * elements differ in number, or a merge reaches the last axis or does not line up.
 */
import { describe, expect, it } from 'vitest';
import { alignLayout } from '../../diagnose/layout';

/** Values of an [n, h, w, c] tensor equal to their own index as `nchw` would read it. */
function nhwc(n: number, h: number, w: number, c: number): { nhwc: Float32Array; nchw: Float32Array } {
  const a = new Float32Array(n * h * w * c);
  const b = new Float32Array(n * h * w * c);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) {
          const v = ((i * 7 + y) * 5 + x) * 3 + k * 0.5;
          a[((i * h + y) * w + x) * c + k] = v;
          b[((i * c + k) * h + y) * w + x] = v;
        }
  return { nhwc: a, nchw: b };
}

describe('alignLayout', () => {
  it('reads channels-last as channels-first when each size occurs once', () => {
    const t = nhwc(2, 5, 3, 4);
    expect(Array.from(alignLayout(t.nhwc, [2, 5, 3, 4], [2, 4, 5, 3]) ?? [])).toEqual(Array.from(t.nchw));
    expect(Array.from(alignLayout(t.nchw, [2, 4, 5, 3], [2, 5, 3, 4]) ?? [])).toEqual(Array.from(t.nhwc));
  });

  it('drops axes of size 1: [N, C, 1, 1] is [N, C]', () => {
    const v = Float32Array.from([1, 2, 3, 4, 5, 6]);
    expect(alignLayout(v, [2, 3, 1, 1], [2, 3])).toBe(v);
  });

  it("takes rows stacked another way as they are, either way: torch's [B, N, N, C] is our [B·N·N, C]", () => {
    const v = Float32Array.from({ length: 2 * 3 * 3 * 4 }, (_, i) => i);
    expect(alignLayout(v, [2, 3, 3, 4], [18, 4])).toBe(v);
    expect(alignLayout(v, [18, 4], [2, 3, 3, 4])).toBe(v);
    expect(alignLayout(v, [1, 6, 3, 4], [18, 1, 4])).toBe(v);
    expect(alignLayout(v, [2, 3, 3, 4], [6, 3, 4])).toBe(v);
    const scores = Float32Array.from({ length: 30 }, (_, i) => i);
    expect(alignLayout(scores, [3, 10, 1], [30, 1])).toBe(scores);
  });

  it('refuses merges that reach the last axis (they could hide another axis order) or do not line up', () => {
    expect(alignLayout(new Float32Array(72), [2, 3, 3, 4], [2, 3, 12])).toBeUndefined();
    expect(alignLayout(new Float32Array(72), [2, 3, 3, 4], [2, 36])).toBeUndefined();
    expect(alignLayout(new Float32Array(72), [2, 3, 3, 4], [4, 18])).toBeUndefined();
    expect(alignLayout(new Float32Array(72), [2, 3, 3, 4], [3, 6, 4])).toBeUndefined();
  });

  it('refuses repeated sizes and other element counts', () => {
    expect(alignLayout(new Float32Array(16), [2, 2, 4], [2, 4, 2])).toBeUndefined();
    expect(alignLayout(new Float32Array(12), [3, 4], [2, 6])).toBeUndefined();
    expect(alignLayout(new Float32Array(12), [3, 4], [4, 4])).toBeUndefined();
  });
});
