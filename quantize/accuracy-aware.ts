/**
 * Accuracy-aware int8: quantize, check the int8 graph against its parity gate on the reference
 * cases, and while it misses, keep its most sensitive quantized nodes float and write it again
 * (float-fallback-search.ts decides which and how many; node-sensitivity.ts ranks them from the
 * per-layer errors of diagnose/'s comparison with the fp32 graph), up to maxFloatFraction of the
 * quantizable nodes. Calibration runs once: the ranges do not depend on which nodes stay float.
 *
 * The graph written to `outputPath` is the passing one with the fewest float nodes the search found,
 * or at the bound the best it tried; the report says which nodes it kept float and every round.
 * Deterministic: parity and the comparison run with fixed threads, the search's choices depend only
 * on their results, and the graph's bytes only on the nodes kept float (quantize-model.ts).
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSignature } from '../common/model-signature';
import { openReferenceCases } from '../checkpoint';
import { readModel } from '../onnx/serialize-read';
import { writeModel } from '../onnx/write-model';
import { graphSignature } from '../onnx/graph-signature';
import {
  searchFloatNodes,
  type FloatFallbackReport,
  type GateEvaluation,
  type NodeSensitivity,
} from './float-fallback-search';
import {
  exposeRequantized,
  localRises,
  probedTensors,
  sensitivityProbes,
  type TensorErrorSummary,
} from './node-sensitivity';
import { planQuantization } from './qdq-plan';
import { prepareQuantization, writeQuantized, type QuantizationReport, type QuantizeRequest } from './quantize-model';

/** One case's inputs by graph input name, batch first (diagnose/'s DiagnosisCase). */
export interface ComparisonCase {
  readonly name: string;
  readonly inputs: ReadonlyMap<string, { dims: readonly number[]; values: Float32Array | BigInt64Array | Uint8Array }>;
}

/** diagnose/'s compareGraphIntermediates, as the search calls it. */
export type CompareIntermediates = (
  candidatePath: string,
  baselinePath: string,
  cases: readonly ComparisonCase[],
  options?: { tensors?: readonly string[]; threads?: number },
) => Promise<{ errors: readonly TensorErrorSummary[]; unmatched: readonly string[] }>;

/**
 * Samples per reference case the ranking compares: the rises are means over every element of a
 * layer, so a few samples order the layers as well as all of them, at a fraction of the time.
 */
export const RANKING_SAMPLES_PER_CASE = 8;
/** Fixed onnxruntime threads the search's parity and comparison runs should use: the same choices on any host. */
export const SEARCH_THREADS = 2;

export interface AccuracyAwareRequest extends QuantizeRequest {
  /** The reference cases the gate checks (a bundle's reference.safetensors). */
  readonly referencePath: string;
  readonly gate: { readonly mae: number; readonly maxAbs: number };
  /** The most nodes kept float, as a share of the quantizable nodes (0 turns the search off). */
  readonly maxFloatFraction: number;
  /** Where the rounds' graphs are written (removed afterwards); beside outputPath when absent. */
  readonly scratchDir: string;
  /** Parity of an int8 graph on the reference cases with the gate's tolerances (parity/'s runParity and gateEvaluation). */
  readonly checkGate: (int8Path: string) => Promise<GateEvaluation>;
  readonly compare: CompareIntermediates;
  /** Called after every round (the activity heartbeats). */
  readonly onRound?: (round: number) => void;
}

export type AccuracyAwareReport = QuantizationReport & { readonly accuracySearch: FloatFallbackReport };

interface RoundEvaluation extends GateEvaluation {
  readonly path: string;
  readonly report: QuantizationReport;
}

/** The reference cases' inputs, the first `perCase` samples of each. */
async function comparisonCases(
  signature: ModelSignature,
  referencePath: string,
  perCase: number,
): Promise<ComparisonCase[]> {
  const reference = await openReferenceCases(referencePath, signature, { tensors: 'inputs' });
  const cases: ComparisonCase[] = [];
  for (const c of reference.cases) {
    const n = Math.min(perCase, c.batch);
    const inputs = new Map<string, { dims: readonly number[]; values: Float32Array | BigInt64Array | Uint8Array }>();
    for (const input of signature.inputs) {
      const t = c.tensors.get(input.name);
      if (t === undefined) continue;
      inputs.set(input.name, { dims: [n, ...t.shape.slice(1)], values: await reference.rows(c, input.name, 0, n) });
    }
    cases.push({ name: c.name, inputs });
  }
  return cases;
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export async function quantizeAccuracyAware(request: AccuracyAwareRequest): Promise<AccuracyAwareReport> {
  const started = process.hrtime.bigint();
  const prepared = await prepareQuantization(request);
  await mkdir(request.scratchDir, { recursive: true });
  const written = new Map<string, RoundEvaluation>();
  const key = (floatNodes: readonly string[]): string => [...floatNodes].sort().join('\n');
  const riseWhenChosen = new Map<string, number>();
  let cases: ComparisonCase[] | undefined;
  try {
    const result = await searchFloatNodes(
      { quantizable: prepared.plan.nodes.length, maxFloatFraction: request.maxFloatFraction },
      {
        async evaluate(floatNodes): Promise<RoundEvaluation> {
          const path = join(request.scratchDir, `round-${written.size}.onnx`);
          const report = await writeQuantized(prepared, floatNodes, path);
          const evaluation: RoundEvaluation = { ...(await request.checkGate(path)), path, report };
          written.set(key(floatNodes), evaluation);
          request.onRound?.(written.size);
          return evaluation;
        },
        async rank(floatNodes): Promise<NodeSensitivity[]> {
          const round = written.get(key(floatNodes));
          if (round === undefined) throw new Error(`internal: no graph written with ${floatNodes.length} nodes float`);
          const plan = planQuantization(prepared.model, { keepFloat: new Set(floatNodes) });
          const probes = sensitivityProbes(plan);
          const exposed = join(request.scratchDir, 'compare.onnx');
          await writeModel(exposeRequantized(await readModel(round.path), plan.requantized), exposed, {
            externalData: 'never',
          });
          cases ??= await comparisonCases(
            graphSignature(prepared.model),
            request.referencePath,
            RANKING_SAMPLES_PER_CASE,
          );
          const { errors } = await request.compare(exposed, request.modelPath, cases, {
            tensors: probedTensors(probes, new Set(prepared.model.graph.inputs.map((i) => i.name))),
            threads: SEARCH_THREADS,
          });
          const rises = localRises(probes, errors);
          for (const r of rises) riseWhenChosen.set(r.node, r.rise);
          return rises;
        },
      },
    );
    const chosen = result.chosen.evaluation;
    await rename(chosen.path, request.outputPath);
    const accuracySearch: FloatFallbackReport = {
      gate: request.gate,
      maxFloatFraction: request.maxFloatFraction,
      quantizable: prepared.plan.nodes.length,
      maxFloat: result.maxFloat,
      passed: result.passed,
      stop: result.stop,
      floatNodes: result.chosen.floatNodes.map((node) => ({
        node,
        rise: finiteOrNull(riseWhenChosen.get(node) ?? Number.NaN),
      })),
      reached: { mae: chosen.mae, maxAbs: chosen.maxAbs, score: finiteOrNull(chosen.score) },
      rounds: result.rounds.map((r) => ({
        kind: r.kind,
        floatNodes: r.floatNodes.length,
        passed: r.evaluation.passed,
        mae: r.evaluation.mae,
        maxAbs: r.evaluation.maxAbs,
        score: finiteOrNull(r.evaluation.score),
        sha256: r.evaluation.report.output.sha256,
      })),
      rankings: result.rankings,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    };
    return {
      ...chosen.report,
      output: { ...chosen.report.output, path: request.outputPath },
      seconds: accuracySearch.seconds,
      accuracySearch,
    };
  } finally {
    for (const round of written.values()) await rm(round.path, { force: true });
    await rm(join(request.scratchDir, 'compare.onnx'), { force: true });
  }
}
