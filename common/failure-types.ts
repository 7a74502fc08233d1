/**
 * The `ApplicationFailure` types this project raises, named once: activities/failures.ts raises
 * them, workflows list the final ones in their retry policies, and callers (the CLI, Python parents)
 * match on them. Imported by workflow code: constants only.
 */
export const FAILURE_TYPES = {
  /** A request, bundle or artifact that can never work: a field, file or tensor is named. */
  invalidInput: 'InvalidInput',
  /** The emitted graph fails our structural checker or cannot be read back. */
  invalidGraph: 'InvalidGraph',
  /** onnxruntime's outputs miss PyTorch's reference outputs by more than the tolerances. */
  parityFailed: 'ParityFailed',
  /** Bytes in the object store are not the bytes their sha256 names. */
  contentMismatch: 'ContentMismatch',
  storageError: 'StorageError',
  registrationError: 'RegistrationError',
  /** The worker's disk failed under an ONNX read or write (disk full, EIO, a file gone mid-write). Retried. */
  onnxIoError: 'OnnxIoError',
  /** An upload stopped part-way (its checkpoint is in the heartbeat; a retry resumes it). */
  uploadInterrupted: 'UploadInterrupted',
  /** An export another starter began failed; the waiting parent fails with it. */
  exportFailed: 'ExportFailed',
  /** The stack smoke check read back other bytes than it wrote. */
  objectMismatch: 'ObjectMismatch',
  /** A benchmark's model URI has a scheme this worker cannot resolve. */
  benchmarkModelUnresolvable: 'BenchmarkModelUnresolvable',
  /** The benchmarked file is not the artifact the workflow named. */
  benchmarkModelMismatch: 'BenchmarkModelMismatch',
  /** A promotion gate was not met (or its tag is missing): nothing was moved. */
  promotionRefused: 'PromotionRefused',
  /**
   * S3 or MLflow refused our credentials (missing, wrong, expired, lacking permission). Raised
   * non-retryable: the message names the service, the endpoint and the variables to set.
   */
  serviceAuthFailed: 'ServiceAuthFailed',
  /** TLS to S3 or MLflow cannot work (untrusted or mismatched certificate, TLS to a plain-http port). Non-retryable. */
  serviceTlsFailed: 'ServiceTlsFailed',
} as const;

export type FailureType = (typeof FAILURE_TYPES)[keyof typeof FAILURE_TYPES];

/** Failures that end an export at once: no retry can change bad input, a bad graph or a parity miss. */
export const FINAL_FAILURE_TYPES: readonly FailureType[] = [
  FAILURE_TYPES.invalidInput,
  FAILURE_TYPES.invalidGraph,
  FAILURE_TYPES.parityFailed,
];

/** A benchmark failure's type, from its error kind: `model-invalid` → `BenchmarkModelInvalid`. */
export function benchmarkFailureType(kind: string): string {
  return `Benchmark${kind
    .split('-')
    .map((w) => (w[0]?.toUpperCase() ?? '') + w.slice(1))
    .join('')}`;
}
