/**
 * The check for ops our checker has no schema for: onnxruntime loads the graph (parses it, resolves
 * every op against its kernels, runs its own type and shape inference). A graph it loads is one it
 * can run; one it refuses comes back with onnxruntime's own message.
 *
 * Must not: run the graph (parity/ does) or judge anything our checker already checks.
 */
import * as ort from 'onnxruntime-node';

export type RuntimeLoad = { readonly ok: true } | { readonly ok: false; readonly message: string };

/** Loads `path` in onnxruntime (one thread, nothing run) and releases it. */
export async function loadInOnnxruntime(path: string): Promise<RuntimeLoad> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  await session.release();
  return { ok: true };
}
