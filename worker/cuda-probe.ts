/**
 * Start-up capability check: can this host's onnxruntime run a session on the CUDA execution provider?
 * Opens a tiny hand-encoded model with `executionProviders: ['cuda']`, runs it, and compares the answer
 * with the plain-JS forward pass. Only a passing probe lets a worker poll the GPU queue.
 *
 * It must never throw (a failed probe is an answer, not an error) and must not start workers.
 */
import { performance } from 'node:perf_hooks';
import { env, Tensor, type InferenceSession } from 'onnxruntime-node';
import { openOnnxruntimeSession, type OpenSession } from '../bench/latency-benchmark';
import { onnxruntimeVersion } from '../bench/host-info';
import { makeProbeModel } from '../bench/probe-model';

/** float32 on a GPU may reorder sums; the probe model's outputs are O(1). */
const PROBE_TOLERANCE = 1e-3;

export interface CudaProbeResult {
  readonly available: boolean;
  /** Why not, or what passed: always a sentence a person can act on. */
  readonly reason: string;
  readonly onnxruntimeVersion: string;
  readonly durationMs: number;
}

export interface CudaProbeOptions {
  deviceId?: number;
  /** How the session is opened; default onnxruntime's. Tests pass one that stands in for a GPU host or a CPU-only one. */
  openSession?: OpenSession;
}

export async function probeCuda(options: CudaProbeOptions = {}): Promise<CudaProbeResult> {
  const start = performance.now();
  const version = onnxruntimeVersion();
  const done = (available: boolean, reason: string): CudaProbeResult => ({
    available,
    reason,
    onnxruntimeVersion: version,
    durationMs: performance.now() - start,
  });
  const model = await makeProbeModel({ width: 8, layers: 2 });
  let session: InferenceSession | undefined;
  // On a CPU-only host the CUDA provider's library is missing by design; onnxruntime's global logger
  // would print that as an ERROR line at every worker start (the session's own severity doesn't
  // reach it). The probe's answer carries the reason instead.
  const logLevel = env.logLevel;
  env.logLevel = 'fatal';
  try {
    session = await (options.openSession ?? openOnnxruntimeSession)(model.bytes, {
      executionProviders: [{ name: 'cuda', deviceId: options.deviceId ?? 0 }],
      logSeverityLevel: 4,
    });
    const batch = 2;
    const x = Float32Array.from({ length: batch * model.width }, (_, i) => Math.sin(i + 1));
    const out = await session.run({ [model.inputName]: new Tensor('float32', x, [batch, model.width]) });
    const y = out[model.outputName]?.data;
    if (!(y instanceof Float32Array))
      return done(false, `CUDA session ran but returned no float32 '${model.outputName}'`);
    const expected = model.forward(x, batch);
    const worst = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - (y[i] ?? Number.NaN))), 0);
    if (!(worst <= PROBE_TOLERANCE))
      return done(false, `CUDA session answered wrongly: max |error| ${worst} > ${PROBE_TOLERANCE}`);
    return done(true, `CUDA session on device ${options.deviceId ?? 0} opened and answered within ${PROBE_TOLERANCE}`);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return done(
      false,
      `onnxruntime-node ${version} could not open a CUDA session (${message.split('\n')[0]}); ` +
        'a GPU host needs `npm install onnxruntime-node --onnxruntime-node-install=cuda12` with CUDA 12 and cuDNN 9 on the library path',
    );
  } finally {
    env.logLevel = logLevel;
    await session?.release().catch(() => undefined);
  }
}
