/**
 * The one error type of bench/: what went wrong, which model and batch size, and a kind the activity
 * maps to retryable or not. It must not know about Temporal.
 */
export type BenchmarkErrorKind =
  /** The model file is missing, unreadable or not a model onnxruntime accepts. */
  | 'model-invalid'
  /** An input onnxruntime reports cannot be filled (type, shape) by the benchmark. */
  | 'input-unsupported'
  /** The execution provider is not in this onnxruntime build or failed to start. */
  | 'provider-unavailable'
  /** session.run failed. */
  | 'run-failed'
  /** Options out of range. */
  | 'bad-options'
  /** A statistic was asked of unusable samples. */
  | 'statistics'
  /** The caller's AbortSignal fired. */
  | 'aborted'
  /** The SVG figure could not be rendered. */
  | 'figure'
  /** A model or reference URI has a scheme this worker cannot resolve to a local file. */
  | 'model-unresolvable'
  /** The file benchmarked is not the artifact the caller named (another sha256). */
  | 'model-mismatch';

export interface BenchmarkErrorContext {
  readonly kind: BenchmarkErrorKind;
  readonly model?: string;
  readonly batchSize?: number;
  readonly executionProvider?: string;
}

export class BenchmarkError extends Error {
  override readonly name = 'BenchmarkError';
  readonly context: Readonly<BenchmarkErrorContext>;

  constructor(message: string, context: BenchmarkErrorContext, options?: { cause?: unknown }) {
    super(message, options);
    this.context = Object.freeze({ ...context });
  }
}
