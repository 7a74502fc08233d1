/**
 * Runs a graph a slice at a time, so its intermediates can be read without exposing them all at
 * once (Polygraphy's `--onnx-outputs mark all` holds every one of them, and runs out of memory on
 * large graphs). Each slice is a contiguous run of nodes in topological order, written as a small
 * ONNX model of its own: the slice's nodes, the initializers they use, as inputs the values it takes
 * from earlier slices (or the graph's inputs), as outputs the values later slices need plus the ones
 * asked for. Its initializers stay where they are: a hard link to the original file (or its external
 * data file) sits beside the slice and the slice refers to their byte ranges, so no weight is copied;
 * where a link cannot be made (another file system) the slice's own initializers are written inline.
 * Between slices only the boundary values still needed later and the asked-for values not yet taken
 * are kept, per case; everything else is dropped as soon as its last consumer has run.
 *
 * Must not: compare values (layer-errors.ts does) or write anywhere but its working folder.
 */
import { link, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { DataType, Model, Node, Tensor, ValueInfo } from '../onnx/ir';
import { serializeModelReferencingFiles } from '../onnx/encode';
import { DiagnoseError } from './diagnose-error';
import { graphOrder, type GraphOrder } from './graph-order';

/** One case's values by name. */
export type CaseValuesMap = Map<string, ort.Tensor>;

export interface SegmentedGraphOptions {
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  readonly threads?: number;
}

const ORT_TYPES: Readonly<Record<string, DataType>> = {
  float32: 'float32',
  float16: 'float16',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

export class SegmentedGraph {
  readonly order: GraphOrder;
  private readonly initializers: ReadonlyMap<string, Tensor>;
  private readonly inputNames: ReadonlySet<string>;
  /** Per case: the values kept between slices. */
  private retained: CaseValuesMap[] = [];
  /** Values a caller will still ask for. */
  private readonly wanted = new Set<string>();
  private cursor = 0;
  private slices = 0;
  /** Original data file path → its hard link's name in the working folder (undefined: inline). */
  private readonly links = new Map<string, string | undefined>();

  constructor(
    readonly path: string,
    readonly model: Model,
    private readonly workDir: string,
    private readonly label: string,
    private readonly options: SegmentedGraphOptions = {},
  ) {
    this.order = graphOrder(model.graph);
    this.inputNames = new Set(model.graph.inputs.map((v) => v.name));
    // A graph input that shares an initializer's name overrides it (IR ≥ 4).
    this.initializers = new Map(
      model.graph.initializers.filter((t) => !this.inputNames.has(t.name)).map((t) => [t.name, t]),
    );
  }

  /** Starts a walk over `cases` (their graph inputs by name), to be asked for `wanted` in any order. */
  start(cases: readonly CaseValuesMap[], wanted: Iterable<string>): void {
    for (const c of cases) {
      for (const input of this.model.graph.inputs) {
        if (!c.has(input.name))
          throw new DiagnoseError({
            file: this.path,
            subject: `graph input '${input.name}'`,
            expected: 'a value in every case',
            actual: `a case without it (it has ${[...c.keys()].map((k) => `'${k}'`).join(', ') || 'nothing'})`,
          });
      }
    }
    this.retained = cases.map((c) => new Map([...c].filter(([name]) => this.inputNames.has(name))));
    this.wanted.clear();
    for (const name of wanted) {
      if (!this.order.producer.has(name))
        throw new DiagnoseError({
          file: this.path,
          subject: `tensor '${name}'`,
          expected: "the output of one of the graph's nodes",
          actual: 'no node producing it',
        });
      this.wanted.add(name);
    }
    this.cursor = 0;
  }

  /**
   * Runs the graph up to the last node producing one of `names` (which must be among the wanted and
   * not taken yet) and hands their values over, per case; the graph forgets them unless a later
   * node still needs them.
   */
  async take(names: readonly string[]): Promise<CaseValuesMap[]> {
    const end = Math.max(...names.map((n) => this.order.producer.get(n) ?? -1));
    if (end >= this.cursor) await this.runSlice(this.cursor, end);
    const out = this.retained.map((values) => {
      const got: CaseValuesMap = new Map();
      for (const n of names) {
        const v = values.get(n);
        if (v === undefined) throw new Error(`internal: '${n}' was asked for twice or never produced`);
        got.set(n, v);
      }
      return got;
    });
    for (const n of names) this.wanted.delete(n);
    this.forget(this.cursor - 1);
    return out;
  }

  /** Drops every kept value no node after `done` consumes and no caller still wants. */
  private forget(done: number): void {
    for (const values of this.retained) {
      for (const name of [...values.keys()]) {
        if (this.wanted.has(name) || (this.order.lastUse.get(name) ?? -1) > done) continue;
        values.delete(name);
      }
    }
  }

  private async runSlice(first: number, last: number): Promise<void> {
    const nodes = this.order.nodes.slice(first, last + 1);
    const model = this.sliceModel(nodes, last);
    const file = join(this.workDir, `${this.label}-slice-${this.slices++}.onnx`);
    await writeFile(file, await serializeModelReferencingFiles(model, (p) => this.links.get(p)));
    const where = `slice ${this.slices} (nodes ${first}–${last}, '${nodes[0]?.name}' to '${nodes.at(-1)?.name}')`;
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(file, {
        ...(this.options.threads ? { intraOpNumThreads: this.options.threads, interOpNumThreads: 1 } : {}),
      });
    } catch (err) {
      throw this.runtimeError(where, 'onnxruntime to load it', err);
    }
    try {
      for (const [i, values] of this.retained.entries()) {
        const feeds: Record<string, ort.Tensor> = {};
        for (const input of model.graph.inputs) feeds[input.name] = values.get(input.name) as ort.Tensor;
        let out: ort.InferenceSession.OnnxValueMapType;
        try {
          out = await session.run(feeds);
        } catch (err) {
          throw this.runtimeError(`${where}, case ${i + 1}`, 'onnxruntime to run it', err);
        }
        for (const o of model.graph.outputs) values.set(o.name, out[o.name] as ort.Tensor);
      }
    } finally {
      await session.release();
      await rm(file, { force: true });
    }
    this.cursor = last + 1;
  }

  private runtimeError(where: string, expected: string, err: unknown): DiagnoseError {
    return new DiagnoseError({
      file: this.path,
      subject: where,
      expected,
      actual: err instanceof Error ? err.message : String(err),
    });
  }

  /** The slice `nodes` (ending at node `last`) as a model of its own. */
  private sliceModel(nodes: readonly Node[], last: number): Model {
    const produced = new Set(nodes.flatMap((n) => n.outputs.filter((v) => v !== '')));
    const sample = this.retained[0] ?? new Map<string, ort.Tensor>();
    const inputs: ValueInfo[] = [];
    const initializers: Tensor[] = [];
    const seen = new Set<string>();
    for (const n of nodes) {
      for (const v of n.inputs) {
        if (v === '' || produced.has(v) || seen.has(v)) continue;
        seen.add(v);
        const init = this.initializers.get(v);
        if (init !== undefined) initializers.push(init);
        else {
          const t = sample.get(v);
          if (t === undefined) throw new Error(`internal: slice input '${v}' was not kept`);
          inputs.push({ name: v, dtype: ORT_TYPES[t.type] ?? 'float32' });
        }
      }
    }
    const outputs: ValueInfo[] = [...produced]
      .filter((v) => this.wanted.has(v) || (this.order.lastUse.get(v) ?? -1) > last)
      .map((name) => ({ name }));
    const g = this.model.graph;
    return {
      ...this.model,
      graph: { name: g.name, inputs, outputs, initializers, nodes, valueInfo: [] },
    };
  }

  /** Hard-links the graph's data files into the working folder (none made: initializers go inline). */
  async linkDataFiles(): Promise<void> {
    const files = new Set<string>();
    for (const t of this.initializers.values()) if (t.data.kind === 'file') files.add(t.data.path);
    let i = 0;
    for (const f of files) {
      const name = `${this.label}-data-${i++}-${basename(f)}`;
      try {
        await link(f, join(this.workDir, name));
        this.links.set(f, name);
      } catch {
        this.links.set(f, undefined);
      }
    }
  }

  /** Drops every kept value. */
  close(): void {
    this.retained = [];
  }
}
