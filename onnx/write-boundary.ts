/**
 * The write side's one error boundary (writeModel, serializeModel), as ir-py's serde does it: what
 * escapes a write is an OnnxInputError (located in the output file), an OnnxIoError, or a failure of
 * the caller's own code, unchanged. The caller's code is what it hands the write to run: lazy tensor
 * loaders and late metadata. Their failures are typed by the caller's room (a CheckpointError for a
 * non-finite weight), so they pass as they are. Anything else (the file system's errors, the hashing
 * thread's, the unforeseen) becomes an OnnxIoError naming the file, with the original as its cause.
 *
 * Must not: encode (encode.ts) or open files (write-model.ts).
 */
import type { Attribute, Model, Tensor } from './ir';
import { messageOf, OnnxInputError, OnnxIoError, systemErrorCode } from './onnx-error';

/** Remembers the failures of the caller's own callbacks, so the boundary lets them through unchanged. */
export class CallerCode {
  private readonly failures = new Set<unknown>();

  /** `promise`, its rejection recorded as the caller's. */
  watch<T>(promise: Promise<T>): Promise<T> {
    return promise.catch((reason: unknown) => {
      this.failures.add(reason);
      throw reason;
    });
  }

  failed(err: unknown): boolean {
    return this.failures.has(err);
  }

  /** `model` with every lazy tensor's loader (initializers and attribute tensors) watched. */
  watchLoaders(model: Model): Model {
    const watched = (t: Tensor): Tensor => {
      const data = t.data;
      if (data.kind !== 'lazy') return t;
      return { ...t, data: { kind: 'lazy', length: data.length, load: () => this.watch(data.load()) } };
    };
    const attribute = (a: Attribute): Attribute => (a.type === 'tensor' ? { ...a, value: watched(a.value) } : a);
    const g = model.graph;
    return {
      ...model,
      graph: {
        ...g,
        initializers: g.initializers.map(watched),
        nodes: g.nodes.map((n) =>
          Object.values(n.attributes).some((a) => a.type === 'tensor')
            ? {
                ...n,
                attributes: Object.fromEntries(Object.entries(n.attributes).map(([k, a]) => [k, attribute(a)])),
              }
            : n,
        ),
      },
    };
  }
}

/**
 * Runs `write` with the model's loaders watched; maps what it throws. `file` is the output path
 * (undefined for an in-memory serialization: a file-system error then names the file it came from).
 */
export async function atWriteBoundary<T>(
  model: Model,
  file: string | undefined,
  write: (model: Model, caller: CallerCode) => Promise<T>,
): Promise<T> {
  const caller = new CallerCode();
  try {
    return await write(caller.watchLoaders(model), caller);
  } catch (err) {
    throw writeFailure(err, file, caller);
  }
}

function writeFailure(err: unknown, file: string | undefined, caller: CallerCode): unknown {
  if (caller.failed(err) || err instanceof OnnxIoError) return err;
  if (err instanceof OnnxInputError) return file === undefined ? err : err.locatedIn(file);
  const code = systemErrorCode(err);
  // The file the failed call touched (a tensor's source, say) when Node says; else the one being written.
  const touched = typeof err === 'object' && err !== null ? (err as { path?: unknown }).path : undefined;
  const context = {
    file: typeof touched === 'string' ? touched : (file ?? 'model'),
    ...(code !== undefined ? { code } : {}),
  };
  const message = `${file ?? context.file}: ${messageOf(err)}`;
  return new OnnxIoError(context, message, { cause: err });
}
