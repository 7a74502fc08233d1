/**
 * The error of one tensor against its baseline (`TensorError`, part of layer-errors.ts's contract),
 * accumulated case by case: mean and max absolute difference, the baseline's mean magnitude, and the
 * candidate's NaN/Inf where the baseline is finite. Pure and incremental, over float32, float64 and
 * float16 values.
 */
import type * as ort from 'onnxruntime-node';

/** The error of one intermediate tensor of the candidate against the baseline's tensor of the same name, over all cases. */
export interface TensorError {
  readonly tensor: string; // the value name
  readonly node: string; // the candidate's node producing it
  readonly op: string; // its op type
  readonly modulePath: string; // node name before the last '/', e.g. 'backbone.0.1.0.block.0'
  readonly depth: number; // position of its node in the candidate's topological order, 0-based
  readonly mae: number; // mean |candidate − baseline| over every element of every case
  readonly maxAbs: number;
  readonly baselineMeanAbs: number; // mean |baseline| (so errors can be read relative to the tensor's size)
  readonly nonFinite: number; // elements NaN/Inf in the candidate where the baseline is finite
}

export const FLOAT_TYPES: ReadonlySet<string> = new Set(['float32', 'float64', 'float16']);

export interface ErrorSums {
  readonly count: number;
  readonly mae: number;
  readonly maxAbs: number;
  readonly baselineMeanAbs: number;
  readonly nonFinite: number;
}

export class TensorErrorAccumulator {
  private count = 0;
  private finite = 0;
  private sumAbs = 0;
  private sumBase = 0;
  private maxAbs = 0;
  private nonFinite = 0;

  add(candidate: ArrayLike<number>, baseline: ArrayLike<number>): void {
    for (let i = 0; i < candidate.length; i++) {
      const c = candidate[i] as number;
      const b = baseline[i] as number;
      if (!Number.isFinite(b)) continue;
      if (!Number.isFinite(c)) {
        this.nonFinite++;
        continue;
      }
      const d = Math.abs(c - b);
      this.sumAbs += d;
      this.sumBase += Math.abs(b);
      if (d > this.maxAbs) this.maxAbs = d;
      this.finite++;
    }
    this.count += candidate.length;
  }

  result(): ErrorSums {
    return {
      count: this.count,
      mae: this.finite > 0 ? this.sumAbs / this.finite : 0,
      maxAbs: this.maxAbs,
      baselineMeanAbs: this.finite > 0 ? this.sumBase / this.finite : 0,
      nonFinite: this.nonFinite,
    };
  }
}

/** A float tensor's values as numbers (float16 decoded); undefined for any other type. */
export function floatValues(t: ort.Tensor): ArrayLike<number> | undefined {
  if (t.type === 'float32' || t.type === 'float64') return t.data as Float32Array | Float64Array;
  if (t.type === 'float16') {
    const data = t.data as unknown as ArrayLike<number>;
    // onnxruntime gives float16 as raw bits (Uint16Array) unless the platform has Float16Array.
    return data instanceof Uint16Array ? Float32Array.from(data, halfToFloat) : data;
  }
  return undefined;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
