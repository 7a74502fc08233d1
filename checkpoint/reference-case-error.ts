/**
 * The refusal of a reference-case file (reference-cases.ts): a CheckpointError (the caller's input,
 * never worth a retry) that also says which case and tensor are at fault and what kind of problem it
 * is, so parity/ and quantize/ can restate it in their own terms. Data only: no I/O.
 */
import type { SignatureDim } from '../common/model-signature';
import { CheckpointError } from './checkpoint-error';

/** What is wrong with a reference-case file. */
export type ReferenceProblem =
  /** Keys of both forms (`<name>` and `<case>/<name>`) in one file. */
  | 'mixed-forms'
  /** A `<case>/` prefix that is not a case name. */
  | 'case-name'
  /** A graph tensor whose dtype no reference can hold (float16 is reserved). */
  | 'graph-dtype'
  | 'missing'
  | 'dtype'
  /** Not the graph's rank. */
  | 'rank'
  /** A batch of 0. */
  | 'empty-batch'
  /** A non-batch dimension the graph fixes, with another size. */
  | 'fixed-dim'
  /** A batch that differs from the case's other tensors'. */
  | 'batch'
  /** A symbolic dimension with another size than elsewhere in the case. */
  | 'symbolic-dim';

export interface ReferenceCaseErrorContext {
  readonly file: string;
  readonly subject: string;
  readonly expected: string;
  readonly actual: string;
  readonly problem: ReferenceProblem;
  /** The case, when the file holds several. */
  readonly caseName?: string;
  /** The graph tensor at fault (its name in the graph, not its key in the file). */
  readonly tensor?: string;
  readonly role?: 'input' | 'output';
  /** The tensor's dimensions as the graph declares them, and its shape in the file. */
  readonly graphDims?: readonly SignatureDim[];
  readonly fileShape?: readonly number[];
  /** For a missing tensor: the keys its case does have, in file order. */
  readonly present?: readonly string[];
}

export class ReferenceCaseError extends CheckpointError {
  override readonly name = 'ReferenceCaseError';
  readonly problem: ReferenceProblem;
  readonly caseName: string | undefined;
  readonly tensor: string | undefined;
  readonly role: 'input' | 'output' | undefined;
  readonly graphDims: readonly SignatureDim[] | undefined;
  readonly fileShape: readonly number[] | undefined;
  readonly present: readonly string[] | undefined;
  override readonly expected: string;
  override readonly actual: string;

  constructor(c: ReferenceCaseErrorContext) {
    super({ file: c.file, subject: c.subject, expected: c.expected, actual: c.actual });
    this.expected = c.expected;
    this.actual = c.actual;
    this.problem = c.problem;
    this.caseName = c.caseName;
    this.tensor = c.tensor;
    this.role = c.role;
    this.graphDims = c.graphDims;
    this.fileShape = c.fileShape;
    this.present = c.present;
  }
}
