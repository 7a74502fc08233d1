/**
 * The error quantize/ raises when a quantization cannot even start or cannot be done: a calibration
 * file without the input tensor, a model that is not a float32 graph we can rewrite, a tensor whose
 * calibration range is not finite. Always the caller's input: never worth a retry.
 */

export interface QuantizeErrorContext {
  readonly file: string;
  /** The tensor, node or field at fault. */
  readonly subject: string;
  readonly expected: string;
  readonly actual: string;
}

export class QuantizeError extends Error {
  override readonly name = 'QuantizeError';
  readonly file: string;
  readonly subject: string;
  readonly expected: string;
  readonly actual: string;

  constructor(c: QuantizeErrorContext) {
    super(`${c.file}: ${c.subject}: expected ${c.expected}, got ${c.actual}`);
    this.file = c.file;
    this.subject = c.subject;
    this.expected = c.expected;
    this.actual = c.actual;
  }
}
