/**
 * Structural validation of an .onnx file on disk: read it (external data included, payloads never
 * loaded), hash it, run every check, and summarize. Called by the `validate` CLI command
 * (client/commands/validate.ts), which only formats the report; the pipeline's validateStructure
 * activity does not use it (it reads and checks the model itself, with its own report shape).
 *
 * Must not: print, exit, or decide retry policy (callers do).
 */
import type { Problem } from './checker';
import { checkModel } from './checker';
import type { Shape, ValueInfo } from './ir';
import { sha256File } from '../hashing/file-sha256';
import { readModel } from './serialize-read';

export interface ValidatedValue {
  readonly name: string;
  readonly dtype?: string;
  readonly shape?: Shape;
  /** What shape inference derived (graph outputs only). */
  readonly inferredShape?: Shape;
}

/** JSON-safe: a Temporal activity returns it as is. */
export interface ValidationReport {
  readonly path: string;
  readonly ok: boolean;
  readonly sha256: string;
  readonly opset?: number;
  readonly irVersion?: number;
  readonly producer?: string;
  readonly nodes?: number;
  readonly initializers?: number;
  readonly externalDataFiles?: readonly string[];
  readonly inputs?: readonly ValidatedValue[];
  readonly outputs?: readonly ValidatedValue[];
  readonly metadata?: Readonly<Record<string, string>>;
  /** Every problem found; a file that can't be read has one problem of kind 'read'. */
  readonly problems: readonly (Problem | { readonly kind: 'read'; readonly message: string })[];
}

function value(v: ValueInfo, inferred?: Shape): ValidatedValue {
  return {
    name: v.name,
    ...(v.dtype !== undefined ? { dtype: v.dtype } : {}),
    ...(v.shape !== undefined ? { shape: v.shape } : {}),
    ...(inferred !== undefined ? { inferredShape: inferred } : {}),
  };
}

/** Validates one file; throws only if it does not exist or can't be opened (the error names it). */
export async function validateModelFile(path: string): Promise<ValidationReport> {
  const { sha256 } = await sha256File(path).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT' ? `${path}: no such file` : `${path}: ${err instanceof Error ? err.message : String(err)}`,
    );
  });
  let model;
  try {
    model = await readModel(path);
  } catch (err) {
    return {
      path,
      ok: false,
      sha256,
      problems: [{ kind: 'read', message: err instanceof Error ? err.message : String(err) }],
    };
  }
  const report = checkModel(model);
  const g = model.graph;
  const external = new Set<string>();
  for (const t of g.initializers) if (t.data.kind === 'file' && t.data.path !== path) external.add(t.data.path);
  return {
    path,
    ok: report.ok,
    sha256,
    opset: model.opset,
    irVersion: model.irVersion,
    producer: `${model.producerName} ${model.producerVersion}`.trim(),
    nodes: g.nodes.length,
    initializers: g.initializers.length,
    externalDataFiles: [...external].sort(),
    inputs: g.inputs.map((v) => value(v)),
    outputs: g.outputs.map((v) => value(v, report.inferred.get(v.name)?.shape)),
    metadata: model.metadataProps,
    problems: report.problems,
  };
}
