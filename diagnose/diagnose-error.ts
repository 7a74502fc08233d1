/**
 * The error diagnose/ raises when a comparison cannot start or go on: a graph file that is missing or
 * unreadable, a case without one of a graph's inputs, no tensor the two sides have in common, a run
 * onnxruntime refuses. Its message names the file and the tensor, input or case at fault. A
 * comparison that runs is a list of TensorErrors, whatever their size: that is not an error.
 */

export interface DiagnoseErrorContext {
  readonly file: string;
  /** The tensor, input, case or segment at fault. */
  readonly subject: string;
  readonly expected: string;
  readonly actual: string;
}

export class DiagnoseError extends Error {
  override readonly name = 'DiagnoseError';
  readonly file: string;
  readonly subject: string;
  readonly expected: string;
  readonly actual: string;

  constructor(c: DiagnoseErrorContext) {
    super(`${c.file}: ${c.subject}: expected ${c.expected}, got ${c.actual}`);
    this.file = c.file;
    this.subject = c.subject;
    this.expected = c.expected;
    this.actual = c.actual;
  }
}
