/**
 * The error parity/ raises when a comparison cannot even start: a reference file with missing
 * tensors, wrong shapes or dtypes, or a model whose inputs/outputs are not the contract's. A
 * comparison that runs and fails tolerance is a ParityReport with `passed: false`, not an error.
 */

export interface ParityErrorContext {
  readonly file: string;
  /** The tensor, input or output at fault. */
  readonly subject: string;
  readonly expected: string;
  readonly actual: string;
}

export class ParityError extends Error {
  override readonly name = 'ParityError';
  readonly file: string;
  readonly subject: string;
  readonly expected: string;
  readonly actual: string;

  constructor(c: ParityErrorContext) {
    super(`${c.file}: ${c.subject}: expected ${c.expected}, got ${c.actual}`);
    this.file = c.file;
    this.subject = c.subject;
    this.expected = c.expected;
    this.actual = c.actual;
  }
}
