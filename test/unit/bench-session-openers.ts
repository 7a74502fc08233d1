/**
 * Session openers that stand in for a host's hardware, so tests of CUDA handling give the same
 * answer on a CPU-only machine and on a GPU host.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { openOnnxruntimeSession, type OpenSession } from '../../bench/latency-benchmark';

const wantsCuda = (options: InferenceSession.SessionOptions) =>
  (options.executionProviders ?? []).some((p) => (typeof p === 'string' ? p : p.name) === 'cuda');

/** A host without the CUDA provider: onnxruntime-node's own words when its CUDA library is missing. */
export const cpuOnlyHost: OpenSession = async (model, options) => {
  if (wantsCuda(options))
    throw new Error('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library');
  return openOnnxruntimeSession(model, options);
};

/** A host whose CUDA provider works: the session opens (on the CPU provider, which computes the same). */
export const workingCudaHost: OpenSession = async (model, options) =>
  openOnnxruntimeSession(model, { ...options, executionProviders: ['cpu'] });

/** A host whose CUDA session opens but answers wrongly (a broken driver): every output doubled. */
export const wrongAnsweringCudaHost: OpenSession = async (model, options) => {
  const session = await workingCudaHost(model, options);
  const run = session.run.bind(session);
  Object.assign(session, {
    run: async (feeds: InferenceSession.FeedsType) => {
      const out = await run(feeds);
      for (const t of Object.values(out)) {
        const data = t.data as Float32Array;
        for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) * 2;
      }
      return out;
    },
  });
  return session;
};
