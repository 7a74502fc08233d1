/**
 * A `torch.save` checkpoint (`.pth`, `.pt`, Lightning `.ckpt`) as a WeightsFile: its zip archive's
 * directory, its `data.pkl` through the restricted unpickler, and the weights found where the
 * training service puts them:
 *
 * - `model_state_dict` (the service's `best_model.pth`, `epoch_<n>.pth`, `final_model.pth`);
 * - `state_dict` with the first `model.` of each key removed (Lightning's `.ckpt`, stripped as the
 *   service's own loader does, `k.replace("model.", "", 1)`);
 * - or the top-level dict itself when every value is a tensor (`torch.save(model.state_dict())`).
 *
 * Each weight is a contiguous view of one storage (`<root>/data/<key>`, stored uncompressed), so it is
 * handed out as a byte range of the checkpoint file, as safetensors tensors are: nothing is copied or
 * read until a plug-in asks. A non-contiguous view, a view outside its storage, a storage of another
 * size than its persistent id says, or a big-endian archive is refused naming the key. The optimizer,
 * scheduler and Lightning extras are unpickled (they are in the same stream) and then ignored, their
 * tensors unchecked; a global they name is refused like any other: a pickle is one program whose
 * values the weights may share through its memo, so no part of it can be skipped unread, and torch's
 * own `weights_only` loader refuses the same (real extras are plain containers and tensors). `settings` reads `config` (or Lightning's `hyper_parameters`): the training job's
 * fields, as JSON, for the loader to map to config.json's form. It must not interpret weights, read
 * config.json, or run anything a pickle names (restricted-unpickler.ts).
 */
import { CheckpointError, formatShape } from './checkpoint-error';
import { readFileRange } from './file-ranges';
import { PickleRefusal, TensorView, asDict, dictEntries, dictGet, isList, unpickle } from './restricted-unpickler';
import { SAFETENSORS_DTYPES } from './safetensors-dtypes';
import type { TensorEntry } from './safetensors-header';
import { TensorRangeFile } from './weights-file';
import { ZipArchive, type ZipEntry } from './zip-archive';

/**
 * Largest data.pkl we allocate for. It holds names and shapes, about 150 bytes per tensor (the
 * optimizer's included): 256 MiB is over a million tensors; more is corruption or an attack.
 */
export const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

/** Where the weights were found in the checkpoint's dict. */
export type WeightsSource = 'model_state_dict' | 'state_dict' | 'state dict';

/** A setting's value as config.json would hold it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * The training job's settings in the checkpoint: `config` (the service's .pth) or Lightning's
 * `hyper_parameters`, read one field at a time (the loader asks for the fields it maps).
 */
export interface CheckpointSettings {
  readonly source: 'config' | 'hyper_parameters';
  /** The field as JSON, undefined when absent; refused naming it when it is not plain data (a tensor, bytes). */
  get(field: string): JsonValue | undefined;
}

/** The Lightning module's attribute holding the net: its state_dict keys start with it. */
const LIGHTNING_PREFIX = 'model.';

export class TorchCheckpointFile extends TensorRangeFile {
  private constructor(
    path: string,
    size: number,
    tensors: readonly TensorEntry[],
    readonly weightsSource: WeightsSource,
    readonly settings: CheckpointSettings | undefined,
  ) {
    super(path, size, tensors);
  }

  /** Reads the archive's directory and data.pkl, and checks every weight's view; reads no tensor data. */
  static async open(path: string): Promise<TorchCheckpointFile> {
    const archive = await ZipArchive.open(path);
    const root = archiveRoot(archive, path);
    await checkByteOrder(archive, root, path);
    const top = await readPickle(archive, root, path);
    const { source, dict } = findWeights(top, path);
    const tensors = await weightEntries(dict, source, archive, root, path);
    return new TorchCheckpointFile(path, archive.size, tensors, source, findSettings(top, path));
  }
}

/** `<root>/` of `<root>/data.pkl`: torch names it after the file, but any one folder is read. */
function archiveRoot(archive: ZipArchive, path: string): string {
  const roots = archive.names.filter((n) => /^[^/]+\/data\.pkl$/.test(n)).map((n) => n.slice(0, -8));
  if (roots.length !== 1) {
    throw new CheckpointError({
      file: path,
      subject: 'zip archive',
      expected: 'one <root>/data.pkl (a torch.save archive)',
      actual: roots.length === 0 ? 'none' : roots.map((r) => `${r}data.pkl`).join(', '),
    });
  }
  return roots[0] as string;
}

/** `byteorder` (torch ≥ 1.10 writes it; older archives are little-endian): the storages' byte order. */
async function checkByteOrder(archive: ZipArchive, root: string, path: string): Promise<void> {
  const name = `${root}byteorder`;
  if (!archive.has(name)) return;
  const entry = (await archive.locate([name])).get(name) as ZipEntry;
  const order = (await readFileRange({ path, offset: entry.offset, length: Math.min(entry.size, 16) })).toString();
  if (order !== 'little') {
    throw new CheckpointError({ file: path, subject: `${root}byteorder`, expected: 'little', actual: order });
  }
}

async function readPickle(archive: ZipArchive, root: string, path: string): Promise<unknown> {
  const name = `${root}data.pkl`;
  const entry = (await archive.locate([name])).get(name) as ZipEntry;
  if (entry.size > MAX_PICKLE_BYTES) {
    throw new CheckpointError({
      file: path,
      subject: 'data.pkl',
      expected: `at most ${MAX_PICKLE_BYTES} bytes`,
      actual: `${entry.size} bytes`,
    });
  }
  const bytes = await readFileRange({ path, offset: entry.offset, length: entry.size });
  try {
    return unpickle(bytes);
  } catch (err) {
    if (err instanceof PickleRefusal) throw new CheckpointError({ file: path, subject: 'data.pkl' }, err.message);
    throw err;
  }
}

/** The dict that holds the weights, and where it was found. */
function findWeights(top: unknown, path: string): { source: WeightsSource; dict: ReadonlyMap<unknown, unknown> } {
  const dict = asDict(top);
  if (dict === undefined) {
    throw new CheckpointError({ file: path, subject: 'data.pkl', expected: 'a dict', actual: describe(top) });
  }
  for (const source of ['model_state_dict', 'state_dict'] as const) {
    const value = dictGet(dict, source);
    if (value === undefined) continue;
    const weights = asDict(value);
    if (weights === undefined) {
      throw new CheckpointError({
        file: path,
        subject: source,
        expected: 'a dict of tensors',
        actual: describe(value),
      });
    }
    return { source, dict: weights };
  }
  const entries = dictEntries(dict);
  if (entries.length > 0 && entries.every(([, v]) => v instanceof TensorView)) return { source: 'state dict', dict };
  const keys = entries.slice(0, 12).map(([k]) => `'${String(k)}'`);
  throw new CheckpointError({
    file: path,
    subject: 'weights',
    expected: "a dict with 'model_state_dict' (a .pth), 'state_dict' (a Lightning .ckpt) or a state dict of tensors",
    actual: `a dict with keys ${keys.join(', ')}${entries.length > keys.length ? ', …' : ''}`,
  });
}

/** Every weight as a file range, in the state dict's order, each view checked against its storage. */
async function weightEntries(
  dict: ReadonlyMap<unknown, unknown>,
  source: WeightsSource,
  archive: ZipArchive,
  root: string,
  path: string,
): Promise<TensorEntry[]> {
  const where = (key: string) => (source === 'state dict' ? `state dict['${key}']` : `${source}['${key}']`);
  const byName = new Map<string, string>();
  const views: { name: string; view: TensorView; subject: string }[] = [];
  for (const [k, value] of dictEntries(dict)) {
    const key = String(k);
    if (typeof k !== 'string') {
      throw new CheckpointError({
        file: path,
        subject: `${source} key ${key}`,
        expected: 'a string',
        actual: typeof k,
      });
    }
    if (!(value instanceof TensorView)) {
      throw new CheckpointError({ file: path, subject: where(key), expected: 'a tensor', actual: describe(value) });
    }
    const name = source === 'state_dict' ? key.replace(LIGHTNING_PREFIX, '') : key;
    const earlier = byName.get(name);
    if (earlier !== undefined) {
      throw new CheckpointError(
        { file: path, subject: where(key), expected: 'a name of its own', actual: `'${name}', as ${where(earlier)}` },
        `with '${LIGHTNING_PREFIX}' removed, two keys name the same tensor`,
      );
    }
    byName.set(name, key);
    views.push({ name, view: value, subject: where(key) });
  }
  const records = views.map(({ view }) => `${root}data/${view.storage.key}`);
  const stored = await archive.locate(records.filter((r) => archive.has(r)));
  return views.map(({ name, view, subject }, i) => {
    const record = records[i] as string;
    return viewEntry(name, view, subject, record, stored.get(record), path);
  });
}

/** One weight's byte range: a contiguous view inside a storage whose record has the size its id says. */
function viewEntry(
  name: string,
  view: TensorView,
  subject: string,
  recordName: string,
  record: ZipEntry | undefined,
  path: string,
): TensorEntry {
  const { storage, storageOffset, shape, strides } = view;
  const element = SAFETENSORS_DTYPES[storage.dtype].bytes;
  const refuse = (detail: string, expected: string, actual: string): never => {
    throw new CheckpointError({ file: path, subject, expected, actual }, detail);
  };
  if (record === undefined) refuse('its storage is not in the archive', recordName, 'no such entry');
  const { offset, size } = record as ZipEntry;
  if (size !== storage.numel * element) {
    refuse(
      `storage '${storage.key}' has another size than its persistent id says`,
      `${storage.numel} × ${element} bytes`,
      `${size} bytes`,
    );
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  const contiguous = contiguousStrides(shape);
  if (numel > 1 && shape.some((d, i) => d !== 1 && strides[i] !== contiguous[i])) {
    refuse(
      `a non-contiguous view (shape ${formatShape(shape)})`,
      `strides ${formatShape(contiguous)}`,
      formatShape(strides),
    );
  }
  if (storageOffset + numel > storage.numel) {
    refuse(
      `storage offset out of range of storage '${storage.key}'`,
      `elements within [0, ${storage.numel})`,
      `[${storageOffset}, ${storageOffset + numel})`,
    );
  }
  return {
    name,
    dtype: storage.dtype,
    shape,
    offset: offset + storageOffset * element,
    length: numel * element,
  };
}

/** Row-major strides of `shape`, in elements. */
function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = step;
    step *= shape[i] as number;
  }
  return strides;
}

/** `config` (the service's .pth), else `hyper_parameters` (Lightning), when the checkpoint has one. */
function findSettings(top: unknown, path: string): CheckpointSettings | undefined {
  const dict = asDict(top) as ReadonlyMap<unknown, unknown>;
  for (const source of ['config', 'hyper_parameters'] as const) {
    const value = dictGet(dict, source);
    if (value === undefined || value === null) continue;
    const settings = asDict(value);
    if (settings === undefined) {
      throw new CheckpointError({ file: path, subject: source, expected: 'a dict', actual: describe(value) });
    }
    return {
      source,
      get(field) {
        const v = dictGet(settings, field);
        if (v === undefined) return undefined;
        const json = toJson(v);
        if (json === undefined) {
          throw new CheckpointError({
            file: path,
            subject: `${source}.${field}`,
            expected: 'plain data (a string, number, boolean, None, list or dict of them)',
            actual: describe(v),
          });
        }
        return json;
      },
    };
  }
  return undefined;
}

/** Deepest nesting a setting may have: a pickle can make a list that holds itself. */
const MAX_SETTING_DEPTH = 32;

/** A pickled value as JSON, or undefined when some part of it is not plain data (or nests deeper than the limit). */
function toJson(v: unknown, depth = 0): JsonValue | undefined {
  if (depth > MAX_SETTING_DEPTH) return undefined;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'bigint')
    return v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER ? Number(v) : undefined;
  if (isList(v)) {
    const items = v.map((x) => toJson(x, depth + 1));
    return items.every((x) => x !== undefined) ? (items as JsonValue[]) : undefined;
  }
  const dict = asDict(v);
  if (dict === undefined) return undefined;
  const out: { [key: string]: JsonValue } = {};
  for (const [k, x] of dictEntries(dict)) {
    const json = typeof k === 'string' ? toJson(x, depth + 1) : undefined;
    if (json === undefined) return undefined;
    out[k as string] = json;
  }
  return out;
}

/** What a pickled value is, for messages (never its contents). */
function describe(v: unknown): string {
  if (v instanceof TensorView) return `a tensor ${formatShape(v.shape)}`;
  if (asDict(v) !== undefined) return 'a dict';
  if (isList(v)) return 'a list or tuple';
  if (v === null) return 'None';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'object' || typeof v === 'function' ? 'an object' : `a ${typeof v}`;
}
