/**
 * A restricted unpickler for torch.save's `data.pkl`: the `pickleparser` package runs the opcodes,
 * and every name a pickle asks for (GLOBAL, STACK_GLOBAL, INST, and through them REDUCE, OBJ,
 * NEWOBJ, BUILD) goes through `resolveGlobal`, which knows only ALLOWED_GLOBALS and refuses any other
 * name before anything is looked up: nothing is imported, and the only code a pickle can reach is the
 * few functions below, which build inert records (a dict, a tensor view of a storage) from checked
 * arguments. Extension codes and out-of-band buffers are refused; persistent ids must be torch's
 * storage tuples.
 *
 * What it returns is plain data: Maps (dict, OrderedDict), arrays (list, tuple), strings, numbers,
 * bigints, booleans, null, byte arrays, and frozen `TensorView`/`StorageRef` records. pickleparser is
 * lenient where a hostile pickle could bend its values (a protocol-0 DICT writes properties, not
 * entries; BUILD assigns a state's keys onto objects), so our records are frozen (BUILD on them
 * fails) and callers read dicts through `asDict`/`dictGet`, which refuse any Map that is not a plain
 * one. pickleparser reads LONG1/LONG4 as unsigned, so an int below -2^31 comes out wrong; a tensor's
 * offset, sizes and strides are never negative, and a view that does not fit its storage is refused,
 * so only values we ignore could be misread. It must not know what a checkpoint's keys mean
 * (torch-checkpoint.ts does) nor read files.
 */
import { Parser } from 'pickleparser';
import { isSafetensorsDtype, type SafetensorsDtype } from './safetensors-dtypes';

/** A storage as a persistent id names it: `data/<key>` of the archive, `numel` elements of `dtype`. */
export class StorageRef {
  constructor(
    readonly dtype: SafetensorsDtype,
    readonly key: string,
    readonly location: string,
    readonly numel: number,
  ) {
    Object.freeze(this);
  }
}

/** `torch._utils._rebuild_tensor_v2`'s arguments: a view of a storage (not yet checked against it). */
export class TensorView {
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly shape: readonly number[],
    readonly strides: readonly number[],
  ) {
    Object.freeze(this);
  }
}

/** A refusal found while unpickling: the message names the global, argument or value at fault. */
export class PickleRefusal extends Error {
  override readonly name = 'PickleRefusal';
}

/** torch's storage classes, as persistent ids name them, and the dtype (safetensors' names) of their elements. */
const STORAGE_TYPES: Readonly<Record<string, SafetensorsDtype>> = {
  'torch.FloatStorage': 'F32',
  'torch.HalfStorage': 'F16',
  'torch.BFloat16Storage': 'BF16',
  'torch.LongStorage': 'I64',
  'torch.BoolStorage': 'BOOL',
  // torch 2.x names an untyped storage (bytes) this way; a tensor on it is uint8.
  'torch.UntypedStorage': 'U8',
};

const REBUILD_TENSOR = 'torch._utils._rebuild_tensor_v2';
const REBUILD_PARAMETER = 'torch._utils._rebuild_parameter';
const ORDERED_DICT = 'collections.OrderedDict';

/** Every global a checkpoint may name; anything else is refused by name. */
export const ALLOWED_GLOBALS: readonly string[] = [
  ORDERED_DICT,
  REBUILD_TENSOR,
  REBUILD_PARAMETER,
  ...Object.keys(STORAGE_TYPES),
];

/** A storage class named in a pickle: only ever an element of a persistent id, never called. */
interface StorageType {
  readonly storageType: string;
}

/** Unpickles `bytes`; any global not in ALLOWED_GLOBALS, any malformed stream, is a PickleRefusal. */
export function unpickle(bytes: Uint8Array): unknown {
  const storageTypes = new Map(
    Object.keys(STORAGE_TYPES).map((name) => [name, Object.freeze({ storageType: name }) as StorageType]),
  );
  /** Each marker's name, for persistent ids (one lookup per storage). */
  const storageNames = new Map([...storageTypes].map(([name, marker]) => [marker as unknown, name]));
  // Fresh, frozen functions per stream: BUILD cannot leave state on them for the next checkpoint.
  const functions = new Map<string, (...args: unknown[]) => unknown>([
    [ORDERED_DICT, Object.freeze((...args: unknown[]) => orderedDict(args))],
    [REBUILD_TENSOR, Object.freeze((...args: unknown[]) => rebuildTensor(args))],
    [REBUILD_PARAMETER, Object.freeze((...args: unknown[]) => rebuildParameter(args))],
  ]);
  const parser = new Parser({
    unpicklingTypeOfDictionary: 'Map',
    unpicklingTypeOfSet: 'array',
    nameResolver: {
      resolve(module: string, name: string) {
        const qualified = `${String(module)}.${String(name)}`;
        const found = functions.get(qualified) ?? storageTypes.get(qualified);
        if (found === undefined) {
          throw new PickleRefusal(
            `global '${qualified}' is not allowed (allowed: ${ALLOWED_GLOBALS.join(', ')}); nothing was imported or run`,
          );
        }
        return found as (...args: unknown[]) => unknown;
      },
    },
    persistentResolver: { resolve: (pid: unknown) => storageRef(pid, storageNames) },
    extensionResolver: {
      resolve: (code: number) => {
        throw new PickleRefusal(`extension code ${code} is not allowed (copyreg's registry is never consulted)`);
      },
    },
  });
  try {
    return parser.parse(bytes);
  } catch (err) {
    if (err instanceof PickleRefusal) throw err;
    // pickleparser's own errors (a truncated stream, an unknown opcode, a REDUCE of a non-function).
    throw new PickleRefusal(`malformed pickle: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function orderedDict(args: unknown[]): Map<unknown, unknown> {
  if (args.length !== 0) throw new PickleRefusal(`${ORDERED_DICT}: expected no arguments, got ${args.length}`);
  return new Map();
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])`. */
function rebuildTensor(args: unknown[]): TensorView {
  const [storage, offset, size, stride] = args;
  if (args.length < 6 || args.length > 7)
    throw new PickleRefusal(`${REBUILD_TENSOR}: expected 6 or 7 arguments, got ${args.length}`);
  if (!(storage instanceof StorageRef))
    throw new PickleRefusal(`${REBUILD_TENSOR}: argument 1 is not a storage (persistent id)`);
  if (!isIndex(offset)) throw new PickleRefusal(`${REBUILD_TENSOR}: storage_offset is not a non-negative integer`);
  const shape = indexTuple(size, 'size');
  const strides = indexTuple(stride, 'stride');
  if (strides.length !== shape.length)
    throw new PickleRefusal(`${REBUILD_TENSOR}: ${shape.length} sizes but ${strides.length} strides`);
  return new TensorView(storage, offset, shape, strides);
}

/** `_rebuild_parameter(data, requires_grad, backward_hooks)`: the tensor it wraps. */
function rebuildParameter(args: unknown[]): TensorView {
  const [data] = args;
  if (args.length !== 3 || !(data instanceof TensorView))
    throw new PickleRefusal(`${REBUILD_PARAMETER}: expected (tensor, requires_grad, backward_hooks)`);
  return data;
}

/** `('storage', <storage class>, key, location, numel)`. */
function storageRef(pid: unknown, names: ReadonlyMap<unknown, string>): StorageRef {
  if (!isList(pid) || pid.length !== 5 || pid[0] !== 'storage')
    throw new PickleRefusal(`persistent id is not torch's ('storage', type, key, location, numel)`);
  const [, type, key, location, numel] = pid;
  const name = names.get(type);
  const dtype = name !== undefined ? STORAGE_TYPES[name] : undefined;
  if (dtype === undefined || !isSafetensorsDtype(dtype))
    throw new PickleRefusal(`persistent id: the storage type is not one of ${Object.keys(STORAGE_TYPES).join(', ')}`);
  if (typeof key !== 'string' || !/^[0-9A-Za-z_.-]+$/.test(key))
    throw new PickleRefusal(`persistent id: storage key ${JSON.stringify(key)} is not a plain record name`);
  if (typeof location !== 'string')
    throw new PickleRefusal(`persistent id of storage '${key}': location is not a string`);
  if (!isIndex(numel))
    throw new PickleRefusal(`persistent id of storage '${key}': numel is not a non-negative integer`);
  return new StorageRef(dtype, key, location, numel);
}

function indexTuple(v: unknown, what: string): number[] {
  if (!isList(v) || !v.every(isIndex))
    throw new PickleRefusal(`${REBUILD_TENSOR}: ${what} is not a tuple of non-negative integers`);
  return [...v];
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** A list or tuple as pickleparser builds it: a plain array. */
export function isList(v: unknown): v is readonly unknown[] {
  return Array.isArray(v) && Object.getPrototypeOf(v) === Array.prototype;
}

/** A dict or OrderedDict as pickleparser builds it: a plain Map with entries only. */
export function asDict(v: unknown): ReadonlyMap<unknown, unknown> | undefined {
  if (!(v instanceof Map) || Object.getPrototypeOf(v) !== Map.prototype || Object.keys(v).length > 0) return undefined;
  return v;
}

/** `dict[key]`, through Map.prototype (a pickle cannot shadow `get`). */
export function dictGet(dict: ReadonlyMap<unknown, unknown>, key: string): unknown {
  return Map.prototype.get.call(dict, key);
}

/** The dict's entries, through Map.prototype. */
export function dictEntries(dict: ReadonlyMap<unknown, unknown>): [unknown, unknown][] {
  return [...(Map.prototype.entries.call(dict) as IterableIterator<[unknown, unknown]>)];
}
