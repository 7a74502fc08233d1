/**
 * The external data files a read model names: which files (relative to the model's folder, as the
 * graph writes them), which tensors each holds, and whether each is really there, inside the folder
 * the model came in (symlinks followed), holding the byte range the graph claims. The reader already
 * refuses absolute and `..` locations; this catches what only the file system shows.
 *
 * Must not: read tensor bytes, or throw for a bad file: refusals are values naming the tensor and
 * the location, so each caller (upload, fetch, staging) raises them as its own error.
 */
import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, sep } from 'node:path';
import type { Model, Tensor } from './ir';

export interface ExternalDataFile {
  /** The location as the graph names it, relative to the model's folder (`/`-separated). */
  readonly location: string;
  /** The tensors stored in it, in graph order. */
  readonly tensors: readonly string[];
}

export interface ExternalDataRefusal {
  readonly tensor: string;
  readonly location: string;
  readonly problem: string;
}

/** Every tensor of the graph: initializers, then tensor attributes (Constant's `value`). */
function allTensors(model: Model): Tensor[] {
  return [
    ...model.graph.initializers,
    ...model.graph.nodes.flatMap((n) =>
      Object.values(n.attributes).flatMap((a) => (a.type === 'tensor' ? [a.value] : [])),
    ),
  ];
}

/** The external data files of `model` (read from `modelPath`), in order of first use. */
export function externalDataFiles(model: Model, modelPath: string): ExternalDataFile[] {
  const base = dirname(modelPath);
  const byLocation = new Map<string, string[]>();
  for (const t of allTensors(model)) {
    if (t.data.kind !== 'file' || t.data.path === modelPath) continue;
    const location = relative(base, t.data.path).split(sep).join('/');
    const tensors = byLocation.get(location) ?? [];
    tensors.push(t.name);
    byLocation.set(location, tensors);
  }
  return [...byLocation].map(([location, tensors]) => ({ location, tensors }));
}

function inside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * What is wrong with the external data of `model` (read from `modelPath`): a file that does not
 * exist, one that resolves outside `root` (default: the model's folder) once symlinks are followed,
 * or a tensor whose byte range runs past its file's end. Empty when all is well.
 */
export async function externalDataRefusals(
  model: Model,
  modelPath: string,
  root: string = dirname(modelPath),
): Promise<ExternalDataRefusal[]> {
  const refusals: ExternalDataRefusal[] = [];
  const realRoot = await realpath(root);
  const checked = new Map<string, { real: string; size: number } | ExternalDataRefusal['problem']>();
  for (const t of allTensors(model)) {
    if (t.data.kind !== 'file' || t.data.path === modelPath) continue;
    const location = relative(dirname(modelPath), t.data.path).split(sep).join('/');
    let file = checked.get(t.data.path);
    if (file === undefined) {
      file = await realpath(t.data.path).then(
        async (real) => {
          if (!inside(real, realRoot))
            return `external data file '${location}' resolves to ${real}, outside the bundle (a symlink leaving it?)`;
          const st = await stat(real);
          return st.isFile() ? { real, size: st.size } : `external data '${location}' is not a file`;
        },
        (err: NodeJS.ErrnoException) =>
          err.code === 'ENOENT'
            ? `external data file '${location}' does not exist in the bundle`
            : `external data file '${location}' cannot be read (${err.code ?? err.message})`,
      );
      checked.set(t.data.path, file);
    }
    if (typeof file === 'string') {
      refusals.push({ tensor: t.name, location, problem: file });
    } else if (t.data.offset + t.data.length > file.size) {
      refusals.push({
        tensor: t.name,
        location,
        problem: `bytes ${t.data.offset}..${t.data.offset + t.data.length} are past the end of external data file '${location}' (${file.size} bytes)`,
      });
    }
  }
  return refusals;
}
