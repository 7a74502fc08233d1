/**
 * The error models/ raises when weights do not match the architecture they claim: every missing and
 * unexpected tensor by name and every shape or dtype mismatch with both sides, in one error, so a
 * checkpoint is fixed in one round. It must not carry tensor data.
 */

export interface TensorMismatch {
  readonly tensor: string;
  readonly expected: string;
  readonly actual: string;
}

export interface ModelErrorContext {
  /** The weights file (or bundle) at fault. */
  readonly file: string;
  /** What the weights were checked against, e.g. `convnext_large` or `convnext depths [1,1] dims [8,16]`. */
  readonly against: string;
  readonly missing?: readonly string[];
  readonly unexpected?: readonly string[];
  readonly mismatches?: readonly TensorMismatch[];
  /** A problem that is not about one tensor (e.g. an input too small for the stages). */
  readonly detail?: string;
}

export class ModelError extends Error {
  override readonly name = 'ModelError';
  readonly file: string;
  readonly against: string;
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
  readonly mismatches: readonly TensorMismatch[];

  constructor(context: ModelErrorContext) {
    super(formatMessage(context));
    this.file = context.file;
    this.against = context.against;
    this.missing = context.missing ?? [];
    this.unexpected = context.unexpected ?? [];
    this.mismatches = context.mismatches ?? [];
  }
}

/** How many names a message lists before it says "and N more" (the error object holds them all). */
const MESSAGE_LIST_LIMIT = 12;

function formatMessage(c: ModelErrorContext): string {
  const parts: string[] = [];
  if (c.detail) parts.push(c.detail);
  for (const m of (c.mismatches ?? []).slice(0, MESSAGE_LIST_LIMIT))
    parts.push(`${m.tensor}: expected ${m.expected}, got ${m.actual}`);
  if ((c.mismatches?.length ?? 0) > MESSAGE_LIST_LIMIT)
    parts.push(`and ${(c.mismatches?.length ?? 0) - MESSAGE_LIST_LIMIT} more mismatches`);
  if (c.missing?.length) parts.push(`missing tensors: ${list(c.missing)}`);
  if (c.unexpected?.length) parts.push(`unexpected tensors: ${list(c.unexpected)}`);
  return `${c.file}: weights do not match ${c.against}: ${parts.join('; ')}`;
}

function list(names: readonly string[]): string {
  const shown = names.slice(0, MESSAGE_LIST_LIMIT).join(', ');
  return names.length > MESSAGE_LIST_LIMIT ? `${shown} and ${names.length - MESSAGE_LIST_LIMIT} more` : shown;
}
