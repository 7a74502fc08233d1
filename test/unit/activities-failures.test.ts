/** Unit: activities/failures maps each library error to the failure type and retry decision workflows rely on. */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { bundleCopy, toActivityFailure } from '../../activities/failures';
import { BenchmarkError } from '../../bench/bench-error';
import { CheckpointError } from '../../checkpoint/checkpoint-error';
import { ReferenceCaseError } from '../../checkpoint/reference-case-error';
import { GraphRefusedError } from '../../onnx/graph-refused-error';
import { OnnxInputError, OnnxIoError } from '../../onnx/onnx-error';
import { ModelReadError } from '../../onnx/serialize-read';
import { writeModel } from '../../onnx/write-model';
import { ParityFailedError } from '../../parity/parity-failed';
import type { ParityReport } from '../../parity/parity-report';
import { QuantizeError } from '../../quantize/quantize-error';
import { MlflowApiError } from '../../registry/mlflow-client';
import { ExistingExportFailedError } from '../../temporal/existing-workflow';
import { FAILURE_TYPES, FINAL_FAILURE_TYPES } from '../../common/failure-types';
import type { ParityDiagnosis } from '../../common/export-contract';
import { RegisteredModelMissingError, RegistrationError, RegistryInputError } from '../../registry/registry-error';
import { ServiceAccessError } from '../../config/service-access-error';
import {
  ContentMismatchError,
  ReadBackMismatchError,
  StorageError,
  StorageInputError,
  UploadAbortedError,
} from '../../storage/storage-error';
import { tinyModel } from './onnx-test-models';

function asFailure(err: Error): ApplicationFailure {
  const f = toActivityFailure(err);
  expect(f).toBeInstanceOf(ApplicationFailure);
  return f as ApplicationFailure;
}

describe('toActivityFailure', () => {
  it('bad input names the field, is InvalidInput and never retries', () => {
    const f = asFailure(new StorageInputError('sha256', 'nope', '64 lowercase hex characters'));
    expect(f).toMatchObject({ type: FAILURE_TYPES.invalidInput, nonRetryable: true });
    expect(f.message).toMatch(/^sha256: expected 64 lowercase hex/);
    expect(f.details).toEqual([{ field: 'sha256', expected: '64 lowercase hex characters' }]);
    expect(asFailure(new RegistryInputError('alias', '42', 'a string')).type).toBe(FAILURE_TYPES.invalidInput);
  });

  it('shows worker-local bundle paths as the checkpoint URI they mirror, in the message and the cause', () => {
    const err = new CheckpointError({
      file: '/work/bundles/abc/model.safetensors',
      subject: 'tensor x',
      expected: 'F32',
      actual: 'F16',
    });
    const f = toActivityFailure(err, bundleCopy('/work/bundles/abc', 's3://ckpt/run-1')) as ApplicationFailure;
    expect(f.message).toBe('s3://ckpt/run-1/model.safetensors: tensor x: expected F32, got F16');
    expect(f.cause?.message).toBe(f.message);
    expect(f.cause?.stack).not.toContain('/work/bundles/abc');
  });

  it('a parity miss is a final ParityFailed carrying the report, its message listing every failure', () => {
    const report = {
      passed: false,
      failures: ["case 'r7', split 3+4: position: MAE 1.1e-1 > 0.00001"],
    } as unknown as ParityReport;
    const f = asFailure(new ParityFailedError('s3://models/staging/abc/model.onnx', report));
    expect(f).toMatchObject({ type: FAILURE_TYPES.parityFailed, nonRetryable: true });
    expect(f.message).toBe(
      "parity failed for s3://models/staging/abc/model.onnx: case 'r7', split 3+4: position: MAE 1.1e-1 > 0.00001",
    );
    expect(f.details).toEqual([report]);
  });

  it('a diagnosed parity miss stays a final ParityFailed: the finding ends the message, the diagnosis is the second detail', () => {
    const report = { passed: false, failures: ['positions: MAE 1.6e-1 > 0.00001'] } as unknown as ParityReport;
    const diagnosis: ParityDiagnosis = {
      status: 'diverges',
      summary: 'first divergence at `backbone.0.4.1` (Conv node `backbone.0.4.1/Conv`), MAE 1.627e-1 > 0.00001',
      seconds: 0.1,
    };
    const f = asFailure(new ParityFailedError('s3://models/staging/abc/model.onnx', report, diagnosis));
    expect(f).toMatchObject({ type: FAILURE_TYPES.parityFailed, nonRetryable: true });
    expect(f.message).toBe(
      'parity failed for s3://models/staging/abc/model.onnx: positions: MAE 1.6e-1 > 0.00001; first divergence at `backbone.0.4.1` (Conv node `backbone.0.4.1/Conv`), MAE 1.627e-1 > 0.00001',
    );
    expect(f.details).toEqual([report, diagnosis]);
  });

  it('a graph the validate stage refuses is a final InvalidGraph with its validation report as details', () => {
    const report = {
      ok: false,
      nodes: 3,
      initializers: 1,
      opset: 17,
      problems: [],
      notChecked: [{ opType: 'Frobnicate', nodes: 1 }],
    };
    const f = asFailure(
      new GraphRefusedError('s3://models/staging/abc/model.onnx: onnxruntime cannot load the graph', report),
    );
    expect(f).toMatchObject({ type: FAILURE_TYPES.invalidGraph, nonRetryable: true });
    expect(f.message).toBe('s3://models/staging/abc/model.onnx: onnxruntime cannot load the graph');
    expect(f.details).toEqual([report]);
  });

  it.each([
    ['model-unresolvable', FAILURE_TYPES.benchmarkModelUnresolvable],
    ['model-mismatch', FAILURE_TYPES.benchmarkModelMismatch],
  ] as const)('a benchmark of a model it cannot resolve or that is another file (%s) is a final %s', (kind, type) => {
    const f = asFailure(new BenchmarkError(`model 's3://m/model.onnx': ${kind}`, { kind, model: 's3://m/model.onnx' }));
    expect(f).toMatchObject({ type, nonRetryable: true });
  });

  it('a reference case the graph cannot take is InvalidInput, shown by its URI', () => {
    const err = new ReferenceCaseError({
      file: '/work/bundles/abc/reference.safetensors',
      subject: "case 'r4': tensor 'r4/mask'.dtype",
      expected: "BOOL (the graph's input 'mask' is bool)",
      actual: 'F32',
      problem: 'dtype',
    });
    const f = toActivityFailure(err, bundleCopy('/work/bundles/abc', 's3://ckpt/run-1')) as ApplicationFailure;
    expect(f).toMatchObject({ type: FAILURE_TYPES.invalidInput, nonRetryable: true });
    expect(f.message).toBe(
      "s3://ckpt/run-1/reference.safetensors: case 'r4': tensor 'r4/mask'.dtype: expected BOOL (the graph's input 'mask' is bool), got F32",
    );
  });

  it('a QuantizeError is InvalidInput, never retried, naming the tensor and showing the bundle path as its URI', () => {
    const err = new QuantizeError({
      file: '/work/bundles/abc/calibration.safetensors',
      subject: 'tensor mel_spectrogram',
      expected: 'F32 [N, 3, 128, 32]',
      actual: 'missing',
    });
    const f = toActivityFailure(err, bundleCopy('/work/bundles/abc', 's3://ckpt/run-1/')) as ApplicationFailure;
    expect(f).toBeInstanceOf(ApplicationFailure);
    expect(f).toMatchObject({ type: FAILURE_TYPES.invalidInput, nonRetryable: true });
    expect(FINAL_FAILURE_TYPES).toContain(f.type);
    expect(f.message).toBe(
      's3://ckpt/run-1/calibration.safetensors: tensor mel_spectrogram: expected F32 [N, 3, 128, 32], got missing',
    );
    expect(f.details).toEqual([
      { subject: 'tensor mel_spectrogram', expected: 'F32 [N, 3, 128, 32]', actual: 'missing' },
    ]);
    expect(f.cause?.name).toBe('QuantizeError');
  });

  it('content mismatches are final; storage and registry errors retry exactly when the library says so', () => {
    const ctx = { bucket: 'b', key: 'k', expected: 'e', actual: 'a' };
    expect(asFailure(new ContentMismatchError('mismatch', ctx))).toMatchObject({
      type: FAILURE_TYPES.contentMismatch,
      nonRetryable: true,
    });
    const transient = new StorageError('reset', { operation: 'putObject', code: 'ECONNRESET', retryable: true });
    const denied = new StorageError('403', { operation: 'putObject', code: 'AccessDenied', retryable: false });
    expect(asFailure(transient)).toMatchObject({
      type: FAILURE_TYPES.storageError,
      nonRetryable: !transient.retryable,
    });
    expect(asFailure(denied)).toMatchObject({ type: FAILURE_TYPES.storageError, nonRetryable: !denied.retryable });
    const down = new RegistrationError('503', { modelName: 'm', sha256: 'a'.repeat(64), retryable: true, attempts: 5 });
    expect(asFailure(down)).toMatchObject({ type: FAILURE_TYPES.registrationError, nonRetryable: !down.retryable });
  });

  it('refused credentials and failed TLS are ServiceAuthFailed / ServiceTlsFailed, never retried, wrapped or not', () => {
    const auth = new ServiceAccessError('S3 https://s3: InvalidAccessKeyId: …', {
      service: 'S3',
      problem: 'auth',
      endpoint: 'https://s3',
      code: 'InvalidAccessKeyId',
    });
    const tls = new ServiceAccessError('MLflow https://mlflow/version: TLS certificate verification failed', {
      service: 'MLflow',
      problem: 'tls',
      endpoint: 'https://mlflow/version',
      code: 'CERT_HAS_EXPIRED',
    });
    expect(asFailure(auth)).toMatchObject({
      type: FAILURE_TYPES.serviceAuthFailed,
      nonRetryable: true,
      message: auth.message,
    });
    expect(asFailure(auth).details).toEqual([auth.context]);
    expect(asFailure(tls)).toMatchObject({ type: FAILURE_TYPES.serviceTlsFailed, nonRetryable: true });
    // A wrapper marked retryable by mistake still cannot make them retried; its message is kept.
    const stored = new StorageError(
      `putObject s3://b/k: ${auth.message}`,
      { operation: 'putObject', retryable: true },
      { cause: auth },
    );
    expect(asFailure(stored)).toMatchObject({
      type: FAILURE_TYPES.serviceAuthFailed,
      nonRetryable: true,
      message: stored.message,
    });
    const registered = new RegistrationError(
      `register m: ${tls.message}`,
      { modelName: 'm', sha256: 'a'.repeat(64), retryable: false, attempts: 1 },
      { cause: tls },
    );
    expect(asFailure(registered)).toMatchObject({ type: FAILURE_TYPES.serviceTlsFailed, nonRetryable: true });
  });

  it('an interrupted upload retries, unless the activity was cancelled', async () => {
    expect(asFailure(new UploadAbortedError(2))).toMatchObject({
      type: FAILURE_TYPES.uploadInterrupted,
      nonRetryable: false,
    });
    const env = new MockActivityEnvironment();
    const mapped = env.run(async () => {
      env.cancel();
      await new Promise((r) => setTimeout(r, 10));
      return toActivityFailure(new UploadAbortedError(2));
    });
    await expect(mapped).resolves.toBeInstanceOf(CancelledFailure);
  });

  it('onnx/: tensor data it cannot write is InvalidInput and a graph it cannot build InvalidGraph, both final, bundle paths as URIs', () => {
    const data = new OnnxInputError(
      'data',
      {
        file: '/work/bundles/abc/model.safetensors',
        subject: "initializer 'w'",
        expected: '/work/bundles/abc/model.safetensors holds bytes 0 to 32',
        actual: 'it ends at byte 10',
      },
      "initializer 'w': /work/bundles/abc/model.safetensors ends before byte 32 (range 0+32)",
    );
    const f = toActivityFailure(data, bundleCopy('/work/bundles/abc', 's3://ckpt/run-1')) as ApplicationFailure;
    expect(f).toMatchObject({ type: FAILURE_TYPES.invalidInput, nonRetryable: true });
    expect(f.message).toBe("initializer 'w': s3://ckpt/run-1/model.safetensors ends before byte 32 (range 0+32)");
    expect(f.details).toEqual([
      {
        kind: 'data',
        subject: "initializer 'w'",
        file: 's3://ckpt/run-1/model.safetensors',
        expected: 's3://ckpt/run-1/model.safetensors holds bytes 0 to 32',
        actual: 'it ends at byte 10',
      },
    ]);
    expect(f.cause?.name).toBe('OnnxInputError');

    const graph = new OnnxInputError(
      'graph',
      { subject: 'LayerNormalization', expected: 'opset 17 or later', actual: 'opset 14' },
      'LayerNormalization needs opset 17 or later; this graph is opset 14',
    );
    expect(asFailure(graph)).toMatchObject({
      type: FAILURE_TYPES.invalidGraph,
      nonRetryable: true,
      message: graph.message,
      details: [{ kind: 'graph', subject: 'LayerNormalization', expected: 'opset 17 or later', actual: 'opset 14' }],
    });
    expect(asFailure(new ModelReadError('/m.onnx', 'truncated'))).toMatchObject({
      type: FAILURE_TYPES.invalidGraph,
      nonRetryable: true,
    });
  });

  it("onnx/: the worker's disk failing under a write is OnnxIoError, retried, with the file and code as details", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'failures-onnx-io-'));
    try {
      const path = join(dir, 'model.onnx');
      symlinkSync('/dev/full', `${path}.partial`); // every write there fails with ENOSPC, as on a full disk
      const err = await writeModel(tinyModel(17), path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OnnxIoError);
      expect(asFailure(err as Error)).toMatchObject({
        type: FAILURE_TYPES.onnxIoError,
        nonRetryable: false,
        message: `${path}: ENOSPC: no space left on device, write`,
        details: [{ file: path, code: 'ENOSPC' }],
      });
      expect(FINAL_FAILURE_TYPES).not.toContain(FAILURE_TYPES.onnxIoError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the errors of the activities that used to build their own failures keep their type, message and retry decision', () => {
    const notFound = new MlflowApiError('registered-models/alias', 404, 'RESOURCE_DOES_NOT_EXIST', 'no version 9');
    expect(asFailure(notFound)).toMatchObject({
      type: FAILURE_TYPES.registrationError,
      nonRetryable: true,
      message: notFound.message,
    });
    expect(asFailure(new MlflowApiError('model-versions/get', 503, undefined, 'down'))).toMatchObject({
      type: FAILURE_TYPES.registrationError,
      nonRetryable: false,
    });
    const mismatch = new ReadBackMismatchError({
      bucket: 'b',
      key: 'smoke/x.txt',
      wrote: 'a'.repeat(64),
      read: 'b'.repeat(64),
    });
    expect(asFailure(mismatch)).toMatchObject({
      type: FAILURE_TYPES.objectMismatch,
      nonRetryable: true,
      message: `s3://b/smoke/x.txt: read back sha256 ${'b'.repeat(64)}, wrote ${'a'.repeat(64)}`,
    });
    expect(asFailure(mismatch).details).toBeUndefined();
    const exportFailed = new ExistingExportFailedError('export-m-r1', 'parity: MAE 0.2 over 1e-5');
    expect(asFailure(exportFailed)).toMatchObject({
      type: FAILURE_TYPES.exportFailed,
      nonRetryable: true,
      message: 'export export-m-r1 failed: parity: MAE 0.2 over 1e-5',
    });
    expect(asFailure(exportFailed).details).toBeUndefined();
    expect(asFailure(new RegisteredModelMissingError('m', 'was created but cannot be read back'))).toMatchObject({
      type: FAILURE_TYPES.registrationError,
      nonRetryable: false,
      message: "MLflow registered model 'm' was created but cannot be read back",
    });
  });

  it('failures the workflows treat as final are the three that no retry can change', () => {
    expect([...FINAL_FAILURE_TYPES].sort()).toEqual(['InvalidGraph', 'InvalidInput', 'ParityFailed']);
  });
});
