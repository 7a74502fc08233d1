/**
 * How much error each quantized node of an int8 graph adds, from per-layer errors against the fp32
 * graph (diagnose/'s compareGraphIntermediates): its local rise, the relative error of the tensor it
 * hands its consumers minus the largest relative error of the activation it reads. What quantizing
 * the node costs (its input's Q/DQ, its int8 weight, its output's requantization), without the error
 * it inherited. Relative (MAE ÷ the fp32 tensor's mean |x|), so a wide pre-GELU tensor and a small
 * head output compare on one scale.
 *
 * A Conv's output is requantized: its consumers read it through Q/DQ, under another name. The graph
 * the comparison runs on (`exposeRequantized`) names that DequantizeLinear's output as the fp32
 * tensor, so the error measured is the one consumers see. Pure: no I/O.
 */
import type { Model } from '../onnx/ir';
import type { NodeSensitivity } from './float-fallback-search';
import type { QuantizationPlan } from './qdq-plan';

/** The part of diagnose/'s TensorError the ranking reads. */
export interface TensorErrorSummary {
  readonly tensor: string;
  readonly mae: number;
  readonly baselineMeanAbs: number;
  readonly nonFinite: number;
}

/** A quantized node and the fp32 tensors its rise is read from. */
export interface SensitivityProbe {
  readonly node: string;
  /** The tensor its consumers read, by its fp32 name (after the bias Add split-fanout-bias moved out). */
  readonly output: string;
  /** The activation it reads. */
  readonly input: string;
}

/** split-fanout-bias.ts's name for a Conv's output before its moved-out bias Add. */
const BEFORE_BIAS = '/before_bias';
/** The name exposeRequantized gives a requantized tensor's producer output. */
const BEFORE_REQUANTIZE = '/before_requantize';

export function sensitivityProbes(plan: QuantizationPlan): SensitivityProbe[] {
  return plan.nodes.map((q) => {
    const output = q.node.outputs[0] as string;
    return {
      node: q.node.name,
      output: output.endsWith(BEFORE_BIAS) ? output.slice(0, -BEFORE_BIAS.length) : output,
      input: q.node.inputs[0] as string,
    };
  });
}

/** The intermediates a comparison must cover for `probes`, sorted (graph inputs have no error to compare). */
export function probedTensors(probes: readonly SensitivityProbe[], graphInputs: ReadonlySet<string>): string[] {
  return [...new Set(probes.flatMap((p) => [p.output, p.input]))].filter((t) => !graphInputs.has(t)).sort();
}

/**
 * The int8 graph with each requantized tensor `t` renamed so that `t` is what its consumers read:
 * the producer writes `t/before_requantize`, QuantizeLinear reads it, DequantizeLinear writes `t`.
 * The same computation; only for the comparison, never published.
 */
export function exposeRequantized(int8: Model, requantized: ReadonlySet<string>): Model {
  const renamed = new Map<string, string>();
  for (const t of requantized) {
    renamed.set(t, `${t}${BEFORE_REQUANTIZE}`);
    renamed.set(`${t}_dequantized`, t);
  }
  const rename = (name: string): string => renamed.get(name) ?? name;
  return {
    ...int8,
    graph: {
      ...int8.graph,
      nodes: int8.graph.nodes.map((n) => ({ ...n, inputs: n.inputs.map(rename), outputs: n.outputs.map(rename) })),
    },
  };
}

/** A tensor's error relative to its size; a non-finite value where fp32 is finite counts as infinite. */
function relative(e: TensorErrorSummary): number {
  if (e.nonFinite > 0) return Number.POSITIVE_INFINITY;
  return e.baselineMeanAbs > 0 ? e.mae / e.baselineMeanAbs : e.mae;
}

/**
 * Each probed node's local rise. A graph input (or an activation the comparison did not match) has
 * no error of its own: 0. A node whose output was not matched ranks last (−∞): nothing says it hurts.
 */
export function localRises(
  probes: readonly SensitivityProbe[],
  errors: readonly TensorErrorSummary[],
): NodeSensitivity[] {
  const byTensor = new Map(errors.map((e) => [e.tensor, relative(e)]));
  return probes.map((p) => {
    const out = byTensor.get(p.output);
    if (out === undefined) return { node: p.node, rise: Number.NEGATIVE_INFINITY };
    const inherited = byTensor.get(p.input) ?? 0;
    // ∞ − ∞: a node reading a non-finite input adds nothing we can measure.
    const rise = out === Number.POSITIVE_INFINITY && inherited === out ? 0 : out - inherited;
    return { node: p.node, rise };
  });
}
