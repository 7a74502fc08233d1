/** worker/: the CUDA probe's answer on hosts with and without a working CUDA provider, and which queues a host serves. */
import { describe, expect, it } from 'vitest';
import { probeCuda } from '../../worker/cuda-probe';
import { decideGpuQueue } from '../../worker/run-worker';
import { cpuOnlyHost, workingCudaHost, wrongAnsweringCudaHost } from './bench-session-openers';

describe('CUDA probe', () => {
  it('answers "not available" with a reason on a host without CUDA, and never throws', async () => {
    const probe = await probeCuda({ openSession: cpuOnlyHost });
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/could not open a CUDA session \(.*Failed to load shared library\)/);
    expect(probe.reason).toMatch(/--onnxruntime-node-install=cuda12/);
    expect(probe.onnxruntimeVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('answers "available" where the CUDA session opens and computes the model correctly', async () => {
    const probe = await probeCuda({ openSession: workingCudaHost, deviceId: 1 });
    expect(probe).toMatchObject({ available: true });
    expect(probe.reason).toMatch(/device 1 opened and answered/);
  });

  it('answers "not available" where the CUDA session opens but computes wrongly', async () => {
    const probe = await probeCuda({ openSession: wrongAnsweringCudaHost });
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/answered wrongly/);
  });
});

describe('GPU queue decision', () => {
  const passed = { available: true, reason: 'ok', onnxruntimeVersion: '1.30.0', durationMs: 1 };
  const failed = { available: false, reason: 'no CUDA', onnxruntimeVersion: '1.30.0', durationMs: 1 };

  it.each([
    ['probe passed', passed, false, { serve: true, executionProvider: 'cuda' }],
    ['probe failed', failed, false, { serve: false }],
    ['probe failed, test flag', failed, true, { serve: true, executionProvider: 'cpu' }],
    ['no probe, test flag', undefined, true, { serve: true, executionProvider: 'cpu' }],
    ['no probe', undefined, false, { serve: false }],
  ] as const)('%s', (_name, probe, flag, expected) => {
    expect(decideGpuQueue(probe, flag)).toMatchObject(expected);
  });

  it('says why the GPU queue is not served', () => {
    expect(decideGpuQueue(failed, false).reason).toBe('no CUDA');
    expect(decideGpuQueue(undefined, true).reason).toMatch(/gpuQueueUsesCpuForTests/);
  });
});
