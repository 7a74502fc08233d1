/**
 * The one mapping from the libraries' errors to Temporal failures, used by every activity. What can
 * never succeed is non-retryable: bad input (a bundle, a request field, tensor data onnx/ cannot
 * write, a calibration file or graph quantize/ refuses), a bad graph (one onnx/ cannot build or read,
 * or whose inputs carry no types), a parity miss (ParityFailedError: a final ParityFailed with its
 * report as details), content that is not what its hash names, an object
 * that reads back other than written, an MLflow 4xx, an export waited for that failed. A transient
 * storage or registry failure, and the worker's disk failing under an ONNX read or write, are
 * retried by the workflow's policy. Refused credentials and failed TLS to S3 or MLflow (a
 * ServiceAccessError, possibly the cause of a StorageError or RegistrationError) are non-retryable
 * ServiceAuthFailed / ServiceTlsFailed, so they end an export in seconds; an abort while the
 * activity is cancelled becomes a cancellation. Messages stay whole, with worker-local paths (the
 * bundle cache, the artifact cache) replaced by the s3:// URIs they mirror, because the caller knows
 * the URI, not this worker's disk.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { BenchmarkError, type BenchmarkErrorKind } from '../bench/bench-error';
import { BundleLayoutError } from '../checkpoint/bundle-layout';
import { CheckpointError } from '../checkpoint/checkpoint-error';
import { bundleFileUri } from '../common/export-contract';
import { benchmarkFailureType, FAILURE_TYPES } from '../common/failure-types';
import { findServiceAccessError } from '../config/service-access-error';
import { ModelError } from '../models/model-error';
import { GraphRefusedError } from '../onnx/graph-refused-error';
import { OnnxInputError, OnnxIoError } from '../onnx/onnx-error';
import { ModelReadError } from '../onnx/serialize-read';
import { ParityError } from '../parity/parity-error';
import { ParityFailedError } from '../parity/parity-failed';
import { QuantizeError } from '../quantize/quantize-error';
import { MlflowApiError } from '../registry/mlflow-client';
import { RegisteredModelMissingError, RegistrationError, RegistryInputError } from '../registry/registry-error';
import {
  ContentMismatchError,
  ReadBackMismatchError,
  StorageError,
  StorageInputError,
  UploadAbortedError,
} from '../storage/storage-error';
import { ExistingExportFailedError } from '../temporal/existing-workflow';
import { MissingInputError } from '../workspace/local-files';

/** A worker-local copy and the object it came from, so messages name what the caller knows. */
export interface LocalCopy {
  local: string;
  uri: string;
}

/** Benchmark errors no retry can change: the model, its inputs or the options are wrong. */
const FINAL_BENCHMARK_KINDS: ReadonlySet<BenchmarkErrorKind> = new Set([
  'model-invalid',
  'input-unsupported',
  'bad-options',
  'statistics',
  'figure',
  'model-unresolvable',
  'model-mismatch',
]);

type InputError =
  | CheckpointError
  | BundleLayoutError
  | ModelError
  | MissingInputError
  | StorageInputError
  | RegistryInputError
  | ParityError
  | QuantizeError
  | OnnxInputError;

function isInputError(err: unknown): err is InputError {
  return (
    err instanceof CheckpointError ||
    err instanceof BundleLayoutError ||
    err instanceof ModelError ||
    err instanceof MissingInputError ||
    err instanceof StorageInputError ||
    err instanceof RegistryInputError ||
    err instanceof ParityError ||
    // A calibration file without the input tensor, a graph quantize/ cannot rewrite: the caller's input.
    err instanceof QuantizeError ||
    // Tensor data onnx/ cannot write as given (byte lengths, a file range past its end, over 2 GiB).
    (err instanceof OnnxInputError && err.kind === 'data')
  );
}

/** The local bundle folder as its checkpoint URI (`dir/model.safetensors` → `s3://…/model.safetensors`). */
export function bundleCopy(dir: string | undefined, checkpointUri: string): LocalCopy[] {
  return dir ? [{ local: `${dir}/`, uri: bundleFileUri(checkpointUri, '') }] : [];
}

/** Maps `err` to the failure the workflow should see; `copies` are local paths to show as their URIs. */
export function toActivityFailure(err: unknown, copies: readonly LocalCopy[] = []): Error {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  if (err instanceof BenchmarkError) return benchmarkFailure(err);
  if (err instanceof GraphRefusedError) {
    return ApplicationFailure.create({
      message: err.message,
      type: FAILURE_TYPES.invalidGraph,
      nonRetryable: true,
      details: [err.report],
    });
  }
  if (err instanceof ParityFailedError) {
    // The report (then the diagnosis) is the details; the message already lists every failure and
    // the diagnosis's finding, so no cause repeats it.
    return ApplicationFailure.create({
      message: err.message,
      type: FAILURE_TYPES.parityFailed,
      nonRetryable: true,
      details: err.diagnosis ? [err.report, err.diagnosis] : [err.report],
    });
  }
  if (err instanceof UploadAbortedError) {
    return activityCancelled()
      ? new CancelledFailure(err.message)
      : failure(err, FAILURE_TYPES.uploadInterrupted, false);
  }
  const access = findServiceAccessError(err);
  if (access) {
    const type = access.context.problem === 'auth' ? FAILURE_TYPES.serviceAuthFailed : FAILURE_TYPES.serviceTlsFailed;
    // The wrapper's message when there is one: it adds the operation and the object or model.
    return failure(err instanceof Error ? err : access, type, true, access.context);
  }
  if (isInputError(err)) return inputFailure(err, copies);
  // A graph onnx/ cannot build (a name defined twice, an op above the opset) or whose inputs carry no types.
  if (err instanceof OnnxInputError) return inputFailure(err, copies, FAILURE_TYPES.invalidGraph);
  if (err instanceof ModelReadError) return failure(err, FAILURE_TYPES.invalidGraph, true);
  if (err instanceof OnnxIoError) return failure(err, FAILURE_TYPES.onnxIoError, false, err.context);
  if (err instanceof ContentMismatchError) return failure(err, FAILURE_TYPES.contentMismatch, true, err.context);
  // Today's smoke-check failure carries no details; its message names the object and both hashes.
  if (err instanceof ReadBackMismatchError) return failure(err, FAILURE_TYPES.objectMismatch, true);
  if (err instanceof StorageError) return failure(err, FAILURE_TYPES.storageError, !err.retryable, err.context);
  if (err instanceof RegistrationError)
    return failure(err, FAILURE_TYPES.registrationError, !err.retryable, err.context);
  // An MLflow answer: a 4xx no retry can change, a 5xx or 429 that may pass.
  if (err instanceof MlflowApiError) return failure(err, FAILURE_TYPES.registrationError, !err.retryable);
  if (err instanceof RegisteredModelMissingError) return failure(err, FAILURE_TYPES.registrationError, false);
  // The export being waited for failed: waiting again gives the same failure.
  if (err instanceof ExistingExportFailedError) return failure(err, FAILURE_TYPES.exportFailed, true);
  return err instanceof Error ? err : new Error(String(err));
}

function failure(err: Error, type: string, nonRetryable: boolean, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    message: err.message,
    type,
    nonRetryable,
    cause: err,
    ...(details ? { details: [details] } : {}),
  });
}

function inputFailure(
  err: InputError,
  copies: readonly LocalCopy[],
  type: string = FAILURE_TYPES.invalidInput,
): ApplicationFailure {
  const mirror = (text: string) => copies.reduce((m, c) => m.split(c.local).join(c.uri), text);
  const message = mirror(err.message);
  // The cause travels into history too: same class name and stack frames, paths mirrored as well.
  const cause = Object.assign(new Error(message), { name: err.name });
  cause.stack = mirror(err.stack ?? `${err.name}: ${err.message}`);
  const named = err instanceof StorageInputError || err instanceof RegistryInputError;
  const details = named
    ? [{ field: err.field, expected: err.expected }]
    : err instanceof QuantizeError
      ? [{ subject: err.subject, expected: err.expected, actual: err.actual }]
      : err instanceof OnnxInputError
        ? [onnxDetails(err, mirror)]
        : undefined;
  return ApplicationFailure.create({
    message,
    type,
    nonRetryable: true,
    cause,
    ...(details ? { details } : {}),
  });
}

/** An OnnxInputError's facts, with any worker-local path shown as the URI it mirrors. */
function onnxDetails(err: OnnxInputError, mirror: (text: string) => string): Record<string, string> {
  const { file, subject, expected, actual } = err.context;
  return {
    kind: err.kind,
    subject,
    ...(file !== undefined ? { file: mirror(file) } : {}),
    ...(expected !== undefined ? { expected: mirror(expected) } : {}),
    ...(actual !== undefined ? { actual: mirror(actual) } : {}),
  };
}

function benchmarkFailure(err: BenchmarkError): Error {
  if (err.context.kind === 'aborted') return new CancelledFailure(err.message);
  return ApplicationFailure.create({
    message: err.message,
    type: benchmarkFailureType(err.context.kind),
    nonRetryable: FINAL_BENCHMARK_KINDS.has(err.context.kind),
    details: [err.context],
    cause: err,
  });
}

/** True inside an activity whose cancellation was requested (false outside any activity). */
function activityCancelled(): boolean {
  try {
    return Context.current().cancellationSignal.aborted;
  } catch {
    return false;
  }
}
