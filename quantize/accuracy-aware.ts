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
 * on their results, and the graph's bytes only on the nodes kept float (quantize-model.ts). So a
 * retried search handed the memo of the attempt before (search-memo.ts, via the activity's heartbeat)
 * replays its rounds and rankings without redoing them, and writes the same bytes.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSignature } from '../common/model-signature';
import { openReferenceCases } from '../checkpoint';
import { readModel } from '../onnx/serialize-read';
import { writeModel } from '../onnx/write-model';
import { graphSignature } from '../onnx/graph-signature';
import {
  floatBound,
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
import { finiteOrNull, floatSetKey, SearchMemoBook, type SearchMemo } from './search-memo';
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
  /** Called after every round and ranking with the search's memo so far (the activity heartbeats it). */
  readonly onRound?: (round: number, memo: SearchMemo) => void;
  /**
   * A retried search's memo (the last heartbeat's), and what this search is of (the graph, the
   * calibration and the settings): a memo of another basis is not used.
   */
  readonly resume?: { readonly basis: string; readonly memo?: SearchMemo };
}

export type AccuracyAwareReport = QuantizationReport & { readonly accuracySearch: FloatFallbackReport };

/** A round's result; its graph and report only when this attempt wrote it (not when replayed from the memo). */
interface RoundEvaluation extends GateEvaluation {
  readonly sha256: string;
  readonly written?: { readonly path: string; readonly report: QuantizationReport };
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

export async function quantizeAccuracyAware(request: AccuracyAwareRequest): Promise<AccuracyAwareReport> {
  const started = process.hrtime.bigint();
  const prepared = await prepareQuantization(request);
  await mkdir(request.scratchDir, { recursive: true });
  const settings = { quantizable: prepared.plan.nodes.length, maxFloatFraction: request.maxFloatFraction };
  const book = new SearchMemoBook(
    request.resume?.basis ?? '',
    floatBound(settings.quantizable, settings.maxFloatFraction),
    request.resume?.memo,
  );
  const written = new Map<string, { readonly path: string; readonly report: QuantizationReport }>();
  let rounds = 0;
  const replayed = { rounds: 0, rankings: 0 };
  const write = async (floatNodes: readonly string[]) => {
    const path = join(request.scratchDir, `round-${written.size}.onnx`);
    const graph = { path, report: await writeQuantized(prepared, floatNodes, path) };
    written.set(floatSetKey(floatNodes), graph);
    return graph;
  };
  const riseWhenChosen = new Map<string, number>();
  let cases: ComparisonCase[] | undefined;
  try {
    const result = await searchFloatNodes(settings, {
      async evaluate(floatNodes): Promise<RoundEvaluation> {
        rounds += 1;
        const memoized = book.round(floatNodes);
        if (memoized !== undefined) {
          replayed.rounds += 1;
          return memoized;
        }
        const graph = await write(floatNodes);
        const gate = await request.checkGate(graph.path);
        book.recordRound(floatNodes, gate, graph.report.output.sha256);
        request.onRound?.(rounds, book.memo());
        return { ...gate, sha256: graph.report.output.sha256, written: graph };
      },
      async rank(floatNodes): Promise<NodeSensitivity[]> {
        const memoized = book.ranking(floatNodes);
        if (memoized !== undefined) {
          replayed.rankings += 1;
          for (const r of memoized) riseWhenChosen.set(r.node, r.rise);
          return [...memoized];
        }
        const round = written.get(floatSetKey(floatNodes)) ?? (await write(floatNodes));
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
        book.recordRanking(floatNodes, rises);
        request.onRound?.(rounds, book.memo());
        return rises;
      },
    });
    const chosen = result.chosen.evaluation;
    const kept = written.get(floatSetKey(result.chosen.floatNodes)) ?? (await write(result.chosen.floatNodes));
    if (kept.report.output.sha256 !== chosen.sha256)
      throw new Error(
        `internal: the int8 graph with ${result.chosen.floatNodes.length} nodes float was written with sha256 ` +
          `${kept.report.output.sha256}, where the round before the retry wrote ${chosen.sha256}`,
      );
    await rename(kept.path, request.outputPath);
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
        sha256: r.evaluation.sha256,
      })),
      rankings: result.rankings,
      ...(replayed.rounds + replayed.rankings > 0 ? { replayed } : {}),
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    };
    return {
      ...kept.report,
      output: { ...kept.report.output, path: request.outputPath },
      seconds: accuracySearch.seconds,
      accuracySearch,
    };
  } finally {
    for (const graph of written.values()) await rm(graph.path, { force: true });
    await rm(join(request.scratchDir, 'compare.onnx'), { force: true });
  }
}
