/** worker/: the CUDA probe's answer on this CPU-only host, and which queues a host serves. */
import { describe, expect, it } from 'vitest';
import { probeCuda } from '../../worker/cuda-probe';
import { decideGpuQueue } from '../../worker/run-worker';

describe('CUDA probe', () => {
  it('answers "not available" with a reason on a host without CUDA, and never throws', async () => {
    // This machine has no GPU and onnxruntime-node was installed without the CUDA provider.
    const probe = await probeCuda();
    expect(probe.available).toBe(false);
    expect(probe.reason).toMatch(/could not open a CUDA session/);
    expect(probe.reason).toMatch(/--onnxruntime-node-install=cuda12/);
    expect(probe.onnxruntimeVersion).toMatch(/^\d+\.\d+\.\d+/);
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
