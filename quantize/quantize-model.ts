/**
 * fp32 ONNX file + calibration inputs → int8 QDQ ONNX file: read the graph (weights stay file
 * ranges), plan which nodes become integer kernels (qdq-plan), calibrate their activations in
 * onnxruntime (calibrate), rewrite (qdq-rewrite) and write the result atomically. Deterministic: the
 * same model, calibration file and method give the same bytes (nothing time- or host-dependent is
 * written; the metadata records the method and the number of calibration samples only). Any graph
 * whose inputs are float32, int64 or bool: calibration feeds every input, case by case.
 */
import { stat } from 'node:fs/promises';
import type { ModelSignature } from '../common/model-signature';
import { graphSignature } from '../onnx/graph-signature';
import type { Model } from '../onnx/ir';
import { readModel } from '../onnx/serialize-read';
import { writeModel } from '../onnx/write-model';
import { DEFAULT_CALIBRATION_METHOD, type CalibrationMethod } from './calibration-methods';
import { calibrate } from './calibrate';
import { openCalibrationInputs } from './calibration-inputs';
import { foldConstantWeights } from './fold-constant-weights';
import type { FloatFallbackReport } from './float-fallback-search';
import type { Range } from './activation-ranges';
import { floatScopes, planQuantization, type QuantizationPlan, type QuantizedNode } from './qdq-plan';
import { splitFanOutConvBias } from './split-fanout-bias';
import { MIN_QDQ_OPSET, rewriteToQdq } from './qdq-rewrite';
import { QuantizeError } from './quantize-error';

/** Where calibration inputs came from, for the report. */
export type CalibrationSource = 'calibration.safetensors' | 'reference.safetensors' | 'file';

export interface QuantizeRequest {
  /** The validated fp32 graph. */
  readonly modelPath: string;
  /** Reference cases holding every input of the graph (docs/export-contract.md); outputs, if any, are not read. */
  readonly calibrationPath: string;
  readonly calibrationSource?: CalibrationSource;
  /** The int8 graph is written here (atomically: a temporary file renamed). */
  readonly outputPath: string;
  readonly method?: CalibrationMethod;
  /** Names of Conv, Gemm or MatMul nodes to leave float besides the graph's float scopes. */
  readonly keepFloat?: readonly string[];
}

export interface QuantizationReport {
  readonly method: CalibrationMethod;
  readonly calibration: {
    readonly path: string;
    readonly source: CalibrationSource;
    /** Samples over every case. */
    readonly samples: number;
    readonly cases: number;
    /** The graph inputs it fed, in graph order. */
    readonly inputs: readonly string[];
    /** The same names, comma-separated (what results recorded before graphs had several inputs). */
    readonly tensor: string;
  };
  /** Quantized nodes by op type (Conv, MatMul, Gemm). */
  readonly quantizedNodes: Readonly<Record<string, number>>;
  /** The graph's float scopes (its INT8_FLOAT_SCOPES_KEY metadata) and, by op type, the nodes they kept float. */
  readonly floatScopes: { readonly scopes: readonly string[]; readonly nodes: Readonly<Record<string, number>> };
  /**
   * The nodes left float because the request named them (`keepFloat`, the accuracy-aware search's
   * choice), in graph order; absent in reports from before the search.
   */
  readonly keptFloat?: { readonly nodes: readonly string[]; readonly byOp: Readonly<Record<string, number>> };
  /** The accuracy-aware search's record, when it ran (quantize/accuracy-aware.ts). */
  readonly accuracySearch?: FloatFallbackReport;
  /** Nodes of the input graph left in float32. */
  readonly floatNodes: number;
  /** Activation tensors quantized (one Q/DQ pair each). */
  readonly quantizedActivations: number;
  /** Weights and biases the fp32 graph computes from initializers, folded before quantizing (fold-constant-weights). */
  readonly foldedWeights: number;
  readonly fp32Bytes: number;
  readonly output: { readonly path: string; readonly bytes: number; readonly sha256: string };
  /** output.bytes / fp32Bytes. */
  readonly sizeRatio: number;
  readonly seconds: number;
}

/**
 * Everything a quantization needs before it decides the nodes kept float: the graph read, its
 * constant weights folded, its fan-out biases split, and every candidate's activations calibrated.
 * Calibration does not depend on which nodes stay float (the fp32 graph runs the same), so the
 * accuracy-aware search calibrates once and writes as many int8 graphs as it tries from this.
 */
export interface PreparedQuantization {
  readonly request: QuantizeRequest;
  readonly method: CalibrationMethod;
  /** The fp32 graph as rewritten: folded weights, split biases. */
  readonly model: Model;
  /** The plan with only the graph's float scopes kept float: the candidates the search chooses from. */
  readonly plan: QuantizationPlan;
  readonly ranges: ReadonlyMap<string, Range>;
  readonly calibration: { readonly samples: number; readonly cases: number; readonly inputs: readonly string[] };
  readonly foldedWeights: number;
  readonly fp32Bytes: number;
  readonly started: bigint;
}

export async function prepareQuantization(request: QuantizeRequest): Promise<PreparedQuantization> {
  const started = process.hrtime.bigint();
  const method = request.method ?? DEFAULT_CALIBRATION_METHOD;
  const fp32 = await readModel(request.modelPath);
  const fail = (subject: string, expected: string, actual: string): never => {
    throw new QuantizeError({ file: request.modelPath, subject, expected, actual });
  };
  if (fp32.opset < MIN_QDQ_OPSET)
    fail('opset', `${MIN_QDQ_OPSET} or later (per-channel DequantizeLinear)`, String(fp32.opset));
  let signature: ModelSignature;
  try {
    signature = graphSignature(fp32);
  } catch (err) {
    return fail(
      'graph signature',
      'inputs and outputs of float32, int64 or bool with declared shapes',
      err instanceof Error ? err.message : String(err),
    );
  }
  if (fp32.metadataProps.quantization !== undefined) {
    fail('metadata quantization', 'an fp32 graph (not quantized yet)', fp32.metadataProps.quantization);
  }
  const constants = await foldConstantWeights(fp32, request.modelPath);
  const model = splitFanOutConvBias(constants.model);
  const plan = planQuantization(model);
  if (plan.nodes.length === 0) fail('graph', 'Conv, Gemm or MatMul nodes with constant weights to quantize', 'none');

  const inputs = await openCalibrationInputs(request.calibrationPath, signature);
  const ranges = await calibrate(model, plan.activations, inputs, method, request.modelPath);
  return {
    request,
    method,
    model,
    plan,
    ranges,
    calibration: { samples: inputs.samples, cases: inputs.cases, inputs: inputs.inputs },
    foldedWeights: constants.folded.length,
    fp32Bytes: (await stat(request.modelPath)).size,
    started,
  };
}

/** Writes the int8 graph of a prepared quantization with `keepFloat` (node names) left float, to `outputPath`. */
export async function writeQuantized(
  prepared: PreparedQuantization,
  keepFloat: readonly string[],
  outputPath: string,
): Promise<QuantizationReport> {
  const { model, method, request } = prepared;
  const plan = planQuantization(model, { keepFloat: new Set(keepFloat) });
  if (plan.nodes.length === 0)
    throw new QuantizeError({
      file: request.modelPath,
      subject: 'keepFloat',
      expected: 'at least one Conv, Gemm or MatMul left to quantize',
      actual: `all ${plan.keptFloatByName.length} kept float`,
    });
  const rewritten = await rewriteToQdq(model, plan, prepared.ranges);
  const written = await writeModel(
    {
      ...rewritten.model,
      metadataProps: {
        ...model.metadataProps,
        quantization: 'int8 QDQ: per-channel symmetric int8 weights, uint8 activations',
        calibration_method: method,
        calibration_samples: String(prepared.calibration.samples),
      },
    },
    outputPath,
    { externalData: 'never' },
  );
  const byOp = (nodes: readonly QuantizedNode[]): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const q of nodes) counts[q.op] = (counts[q.op] ?? 0) + 1;
    return counts;
  };
  const { calibration, fp32Bytes } = prepared;
  return {
    method,
    calibration: {
      path: request.calibrationPath,
      source: request.calibrationSource ?? 'file',
      samples: calibration.samples,
      cases: calibration.cases,
      inputs: calibration.inputs,
      tensor: calibration.inputs.join(', '),
    },
    quantizedNodes: byOp(plan.nodes),
    floatScopes: { scopes: floatScopes(model), nodes: byOp(plan.keptFloat) },
    keptFloat: { nodes: plan.keptFloatByName.map((q) => q.node.name), byOp: byOp(plan.keptFloatByName) },
    floatNodes: model.graph.nodes.length - plan.nodes.length,
    quantizedActivations: plan.activations.length,
    foldedWeights: prepared.foldedWeights,
    fp32Bytes,
    output: { path: written.path, bytes: written.bytes, sha256: written.sha256 },
    sizeRatio: written.bytes / fp32Bytes,
    seconds: Number(process.hrtime.bigint() - prepared.started) / 1e9,
  };
}

export async function quantizeOnnxFile(request: QuantizeRequest): Promise<QuantizationReport> {
  return writeQuantized(await prepareQuantization(request), request.keepFloat ?? [], request.outputPath);
}
