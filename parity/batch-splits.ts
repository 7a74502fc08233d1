/**
 * How parity splits a case's B samples into onnxruntime runs. A graph that bakes a batch size into a
 * Reshape, an Expand or a broadcast passes when every run has the batch it was exported with, and
 * fails or is silently wrong otherwise; so each case runs three ways:
 * - `whole`: batches of at most the parity batch size (one run for most references);
 * - `batch 1`: one sample per run;
 * - `uneven`: a first run of min(3, B − 1), then the rest (in batches of at most the batch size),
 *   so a first run differs from both B and 1 whenever B > 2.
 * Splits that come out the same (B = 1, B = 2) run once. Pure arithmetic.
 */

export const SPLIT_NAMES = ['whole', 'batch 1', 'uneven'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/** Runs that split a case one way, and every split name that gives exactly these runs. */
export interface Partition {
  readonly splits: readonly SplitName[];
  /** Samples per run, in order; they sum to B. */
  readonly sizes: readonly number[];
}

/** Largest first run of the uneven split: small, and different from the usual export dummies (1, 2). */
export const UNEVEN_FIRST_RUN = 3;

function chunks(samples: number, size: number): number[] {
  const out: number[] = [];
  for (let left = samples; left > 0; left -= size) out.push(Math.min(size, left));
  return out;
}

/** The distinct partitions of `samples` (B ≥ 1) for a parity batch size, whole first. */
export function batchSplits(samples: number, batchSize: number): Partition[] {
  const first = Math.min(UNEVEN_FIRST_RUN, samples - 1);
  const bySplit: Record<SplitName, number[]> = {
    whole: chunks(samples, batchSize),
    'batch 1': chunks(samples, 1),
    uneven: first > 0 ? [first, ...chunks(samples - first, batchSize)] : chunks(samples, batchSize),
  };
  const partitions: { splits: SplitName[]; sizes: number[] }[] = [];
  for (const split of SPLIT_NAMES) {
    const sizes = bySplit[split];
    const same = partitions.find((p) => p.sizes.length === sizes.length && p.sizes.every((s, i) => s === sizes[i]));
    if (same) same.splits.push(split);
    else partitions.push({ splits: [split], sizes });
  }
  return partitions;
}

/** Runs as text, repeats folded: `[32, 32, 4]` → `32×2+4`, `[1, 1, 1]` → `1×3`, `[3, 4]` → `3+4`. */
export function describeSizes(sizes: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sizes.length;) {
    let j = i;
    while (j < sizes.length && sizes[j] === sizes[i]) j++;
    parts.push(j - i > 1 ? `${sizes[i]}×${j - i}` : String(sizes[i]));
    i = j;
  }
  return parts.join('+');
}
