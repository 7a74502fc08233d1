/**
 * The parity report: what runParity returns, the check-parity activity records, ParityFailed carries
 * and the CLI prints. Plain JSON. Types only: workflow code imports it.
 */
import type { SplitName } from './batch-splits';
import type { OutputErrors } from './error-stats';

export type { OutputErrors } from './error-stats';
export type { SplitName } from './batch-splits';

/** One way of running a case: its runs, and per output how far they were from the reference. */
export interface SplitParity {
  /** The splits these runs stand for; several when they came out the same (B = 1, B = 2). */
  readonly splits: readonly SplitName[];
  /** Samples per run, repeats folded: `32×2+4`, `1×7`, `3+4`. */
  readonly batches: string;
  readonly passed: boolean;
  /**
   * Why the runs stopped early: onnxruntime's own message (a broadcast error at batch 3, a receiver
   * count the graph fixed), or an output that came back with another type or shape. The outputs
   * then cover the runs before it.
   */
  readonly error?: string;
  readonly outputs: Readonly<Record<string, OutputErrors>>;
}

export interface CaseParity {
  /** The case's name; '' when the reference holds one case. */
  readonly name: string;
  readonly samples: number;
  /** The size of each named symbolic dimension in this case, the batch's aside (`{receivers: 7, seq_len: 1024}`). */
  readonly dims: Readonly<Record<string, number>>;
  readonly passed: boolean;
  readonly splits: readonly SplitParity[];
}

export interface ParityReport {
  readonly model: string;
  readonly reference: string;
  /** Samples over every case. */
  readonly samples: number;
  /** The most samples per onnxruntime run. */
  readonly batchSize: number;
  readonly tolerances: { readonly mae: number; readonly maxAbs: number };
  /**
   * Per output (by graph name), one pass over every case at its worst over the splits: `count` is the
   * elements of one pass, each other figure the largest any split gave.
   */
  readonly outputs: Readonly<Record<string, OutputErrors>>;
  /** Per case, per split, per output. Absent in reports from before reference cases. */
  readonly cases?: readonly CaseParity[];
  /** Reference keys that are neither an input nor an output of the graph. Absent before reference cases. */
  readonly unusedTensors?: readonly string[];
  readonly passed: boolean;
  /**
   * One line per failed check, e.g. `positions: MAE 3.2e-4 > 1e-5`; prefixed with the case and the
   * split when they are not the only case and the whole batch (`case 'r7', split 3+4: position: …`).
   */
  readonly failures: readonly string[];
  readonly seconds: number;
}
