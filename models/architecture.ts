/**
 * What an architecture plug-in is: one descriptor per `models/<architecture>/` folder, listed once in
 * models/architectures.ts. A descriptor says, for config.json's `architecture` value:
 *
 * - its config schema: the fields it reads beside `architecture` and `run_id`, and their check;
 * - its weight check: the state_dict a config promises, every mismatch refused at once (ModelError);
 * - its signature: the graph's named, typed inputs and outputs, known from the config alone;
 * - its IR build: config + checked weights → an onnx/ Model (no tensor data read while building);
 * - its reference cases: which symbolic dimensions the cases in reference.safetensors may vary.
 *
 * `defineArchitecture` closes each step over the config the previous one returned, so the list can
 * hold architectures with different config types and callers (models/emit.ts) never cast.
 * It must not read files or know any particular architecture.
 */
import { configRefusal, type BundleConfig, type ConfigRefusal, type WeightsFile } from '../checkpoint';
import type { ModelSignature } from '../common/model-signature';
import type { Model } from '../onnx/ir';

/** What every architecture's build takes. */
export interface BuildOptions {
  readonly opset?: number;
  /** Training run id for metadata; default the config's `run_id`, else ''. */
  readonly runId?: string;
}

/** A built graph and the settings that describe it (EmittedGraph.settings: strings, as graph metadata). */
export interface BuiltGraph {
  readonly model: Model;
  readonly settings: Readonly<Record<string, string>>;
}

/** What an architecture's reference.safetensors looks like (docs/export-contract.md, "Reference cases"). */
export interface ReferenceCases {
  /** The symbolic dimension every reference tensor leads with. */
  readonly batchDim: string;
  /**
   * The other symbolic dimensions each case sets to its own size (e.g. `receivers`, `seq_len`); empty
   * when every case has the same shapes apart from the batch.
   */
  readonly caseDims: readonly string[];
  /** In words, what a reference should hold to prove this architecture's graph. */
  readonly description: string;
}

/** A plug-in as its folder writes it: typed by its own config and by what its weight check returns. */
export interface ArchitectureDescriptor<Config extends BundleConfig, Checked> {
  /** config.json's `architecture` value. */
  readonly name: string;
  readonly config: {
    /** The fields it reads besides `architecture` and `run_id`, in the order messages list them. */
    readonly fields: readonly string[];
    /** Checks the fields (only those in `fields` reach it) and returns the config; refusals via `fail`. */
    parse(fields: Readonly<Record<string, unknown>>, envelope: ParsedEnvelope, fail: ConfigRefusal): Config;
  };
  /** Refuses weights that do not match the config (ModelError, every problem at once); returns what build needs. */
  checkWeights(config: Config, weights: WeightsFile): Checked;
  /** The inputs and outputs the graph will have (graph order, symbolic dims by name). */
  signature(config: Config): ModelSignature;
  /** The graph, from checked weights; records `checkpoint_sha256` in its metadata. Reads no tensor data. */
  build(input: BuildInput<Config, Checked>, options: BuildOptions): BuiltGraph;
  referenceCases(config: Config): ReferenceCases;
}

/** The envelope fields every architecture gets, already checked. */
export interface ParsedEnvelope {
  readonly architecture: string;
  readonly runId?: string;
}

export interface BuildInput<Config, Checked> {
  readonly config: Config;
  readonly checked: Checked;
  readonly weights: WeightsFile;
  readonly weightsSha256: string;
}

/** A plug-in in the list: its name and config fields, and `configure` to read a config.json with it. */
export interface Architecture<Config extends BundleConfig = BundleConfig> {
  readonly name: string;
  readonly configFields: readonly string[];
  configure(fields: Readonly<Record<string, unknown>>, envelope: ParsedEnvelope, file: string): Configured<Config>;
}

/** An architecture with its config read: the steps that need nothing else. */
export interface Configured<Config extends BundleConfig = BundleConfig> {
  readonly name: string;
  readonly config: Config;
  signature(): ModelSignature;
  referenceCases(): ReferenceCases;
  /** The weight check; what it returns builds the graph. */
  checkWeights(weights: WeightsFile): CheckedWeights;
}

export interface CheckedWeights {
  build(weightsSha256: string, options: BuildOptions): BuiltGraph;
}

export function defineArchitecture<Config extends BundleConfig, Checked>(
  d: ArchitectureDescriptor<Config, Checked>,
): Architecture<Config> {
  return {
    name: d.name,
    configFields: d.config.fields,
    configure(fields, envelope, file) {
      const config = d.config.parse(fields, envelope, configRefusal(file));
      return {
        name: d.name,
        config,
        signature: () => d.signature(config),
        referenceCases: () => d.referenceCases(config),
        checkWeights(weights) {
          const checked = d.checkWeights(config, weights);
          return { build: (weightsSha256, options) => d.build({ config, checked, weights, weightsSha256 }, options) };
        },
      };
    },
  };
}
