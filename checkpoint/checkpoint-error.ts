/**
 * The one error type of checkpoint/: a bundle, config or safetensors file that we refuse. It carries
 * the file, the field or tensor, and what was expected versus found, so the message alone lets a
 * reader fix the checkpoint. It must not carry tensor data (errors travel into Temporal payloads).
 */

export interface CheckpointErrorContext {
  /** The file (or directory) at fault. */
  readonly file: string;
  /** The config field, tensor name or header part at fault, e.g. `position_head.0.weight`. */
  readonly subject: string;
  readonly expected?: string;
  readonly actual?: string;
}

export class CheckpointError extends Error {
  override readonly name: string = 'CheckpointError';
  readonly file: string;
  readonly subject: string;
  readonly expected: string | undefined;
  readonly actual: string | undefined;

  constructor(context: CheckpointErrorContext, detail?: string) {
    super(formatMessage(context, detail));
    this.file = context.file;
    this.subject = context.subject;
    this.expected = context.expected;
    this.actual = context.actual;
  }
}

function formatMessage(c: CheckpointErrorContext, detail: string | undefined): string {
  const parts = [`${c.file}: ${c.subject}`];
  if (detail) parts.push(detail);
  if (c.expected !== undefined || c.actual !== undefined) {
    parts.push(`expected ${c.expected ?? '?'}, got ${c.actual ?? '?'}`);
  }
  return parts.join(': ');
}

/** `[3, 128, 32]` as errors print shapes. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
