/**
 * When the parity gate fails: where the graph parts from the best baseline there is (docs/diagnose.md,
 * "When the pipeline's parity gate fails"; chooseDiagnosisBaseline). The report (JSON, every compared
 * tensor; SVG, error by depth) is saved where the caller says (beside the staged graph).
 *
 * Bounded: a time limit (the diagnosis, baseline download included, races a timer; it heartbeats
 * while it runs) and diagnose/'s chunks for memory. It never throws: a diagnosis that fails or runs
 * out of time is a `not possible` outcome saying why, so the parity failure stays the failure.
 */
import type { ParityDiagnosis } from '../common/export-contract';
import { divergenceFinding, errorPlotSvg, runDiagnosis, type Diagnosis } from '../diagnose';

/** A diagnosis gets at most this long: a parity miss should be reported in minutes, not held for the stage's whole timeout. */
export const DIAGNOSIS_TIME_LIMIT_MS = 5 * 60_000;
/**
 * Compared tensors held at once, per graph: 64 MiB kept diagnose on convnext_large at 464 MB peak
 * RSS and 2.7 s (docs/diagnose.md), well under the parity run it follows, on a worker that runs
 * other stages beside it.
 */
export const DIAGNOSIS_CHUNK_BYTES = 64 * 1024 * 1024;
const HEARTBEAT_MS = 10_000;

/** A file the worker has, and the object it mirrors (what messages and reports name). */
export interface MirroredFile {
  path: string;
  uri: string;
}

/** A graph to compare with: its URI, what to call it, and its local copy on demand. */
export interface BaselineGraph {
  uri: string;
  label: string;
  path: () => Promise<string>;
  /** Local files its errors may name (an emission's checkpoint), with the objects they mirror. */
  sources?: readonly MirroredFile[];
}

export interface ParityDiagnosisInput {
  candidate: MirroredFile;
  /** The graph the candidate was made from (the int8 graph's fp32 graph). */
  baselineGraph?: BaselineGraph;
  /** Our own graph, emitted on demand from the checkpoint a brought graph's bundle carries. */
  emittedGraph?: BaselineGraph;
  /** The bundle's reference: its cases feed both sides; its intermediates are the baseline when no graph is. */
  reference: MirroredFile;
  /** The reference's keys parity used neither as an input nor as an output (`unusedTensors`). */
  unusedReferenceKeys: readonly string[];
  /** The gate's tolerances, which the diagnosis judges each tensor by. */
  tolerances: { mae: number; maxAbs: number };
  timeLimitMs: number;
  maxChunkBytes?: number;
  heartbeat?: (details: { diagnosing: string; seconds: number }) => void;
  /** Stores one report file (`parity-diagnosis.json`, `.svg`) and returns its URI. */
  save: (name: string, body: Buffer, contentType: string) => Promise<string>;
}

export const DIAGNOSIS_REPORT_FILES = { json: 'parity-diagnosis.json', svg: 'parity-diagnosis.svg' } as const;

export type DiagnosisBaseline = { graph: BaselineGraph } | 'reference intermediates' | undefined;

/**
 * The best baseline there is, in this order. The graph the candidate was made from (int8: its fp32
 * graph): what differs is then what making it changed (quantization), judged at its gate's
 * tolerances. Else PyTorch's intermediates, when the reference holds keys parity did not use: the
 * truth itself, the values the reference outputs came from. Else our own graph emitted from the
 * checkpoint a brought graph's bundle carries: a stand-in for PyTorch (it passes parity on its own
 * bundles), and the only baseline that pairs most of a torch export's tensors with a model's. Else none.
 */
export function chooseDiagnosisBaseline(
  input: Pick<ParityDiagnosisInput, 'baselineGraph' | 'emittedGraph' | 'unusedReferenceKeys'>,
): DiagnosisBaseline {
  if (input.baselineGraph !== undefined) return { graph: input.baselineGraph };
  if (input.unusedReferenceKeys.length > 0) return 'reference intermediates';
  if (input.emittedGraph !== undefined) return { graph: input.emittedGraph };
  return undefined;
}

export async function diagnoseParityFailure(input: ParityDiagnosisInput): Promise<ParityDiagnosis> {
  const start = Date.now();
  const seconds = () => (Date.now() - start) / 1000;
  const notPossible = (why: string): ParityDiagnosis => ({
    status: 'not possible',
    summary: `diagnosis not possible: ${why}`,
    seconds: seconds(),
  });
  const chosen = chooseDiagnosisBaseline(input);
  if (chosen === undefined)
    return notPossible(
      `no baseline: no graph to compare with, and ${input.reference.uri} holds no intermediates ('<case>/<module path>' keys of PyTorch's module outputs, docs/export-contract.md)`,
    );
  const baselineGraph = typeof chosen === 'object' ? chosen.graph : undefined;
  const baselineUri = baselineGraph?.uri ?? input.reference.uri;
  const against =
    baselineGraph !== undefined
      ? `${baselineGraph.label} ${baselineGraph.uri}`
      : `PyTorch's intermediates in ${baselineUri}`;
  if (input.timeLimitMs <= 0) return notPossible(`no time left for it before the parity stage's own timeout`);
  const mirrors: MirroredFile[] = [input.candidate, input.reference, ...(baselineGraph?.sources ?? [])];
  const mirror = (text: string) => mirrors.reduce((m, f) => m.split(f.path).join(f.uri), text);

  let diagnosis: Diagnosis;
  const beat = setInterval(
    () => input.heartbeat?.({ diagnosing: input.candidate.uri, seconds: seconds() }),
    HEARTBEAT_MS,
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    const run = (async () => {
      const baselinePath = baselineGraph !== undefined ? await baselineGraph.path() : undefined;
      if (baselineGraph !== undefined && baselinePath !== undefined)
        mirrors.push({ path: baselinePath, uri: baselineGraph.uri });
      return runDiagnosis(input.candidate.path, baselinePath, {
        reference: input.reference.path,
        ...input.tolerances,
        maxChunkBytes: input.maxChunkBytes ?? DIAGNOSIS_CHUNK_BYTES,
      });
    })();
    // A run that loses the race still ends (and removes its slices) on its own; its error is not news.
    run.catch(() => undefined);
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), input.timeLimitMs);
    });
    const outcome = await Promise.race([run, timeout]);
    if (outcome === 'timeout')
      return notPossible(`the diagnosis against ${against} did not finish within ${input.timeLimitMs / 1000} s`);
    diagnosis = outcome;
  } catch (err) {
    return notPossible(
      `the diagnosis against ${against} failed: ${mirror(err instanceof Error ? err.message : String(err))}`,
    );
  } finally {
    clearInterval(beat);
    if (timer !== undefined) clearTimeout(timer);
  }

  // Only the unused keys are intermediates: compared outputs alone say nothing parity did not.
  if (baselineGraph === undefined) {
    const unmatched = new Set(diagnosis.unmatched);
    const keys = input.unusedReferenceKeys;
    if (keys.every((k) => unmatched.has(k)))
      return notPossible(
        `none of the keys of ${input.reference.uri} that parity did not use (${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', …' : ''}) is a module or value of the graph`,
      );
  }

  const stored: Diagnosis = { ...diagnosis, candidate: input.candidate.uri, baseline: baselineUri };
  let report: ParityDiagnosis['report'];
  let unstored = '';
  try {
    const json = await input.save(
      DIAGNOSIS_REPORT_FILES.json,
      Buffer.from(`${JSON.stringify(stored, null, 2)}\n`),
      'application/json',
    );
    const svg = await input.save(DIAGNOSIS_REPORT_FILES.svg, Buffer.from(errorPlotSvg(stored)), 'image/svg+xml');
    report = { json, svg };
  } catch (err) {
    unstored = `; the diagnosis report could not be stored: ${err instanceof Error ? err.message : String(err)}`;
  }
  const where = report ? `; diagnosis report ${report.json}` : unstored;
  const finding = divergenceFinding(diagnosis);
  const f = diagnosis.firstDivergence;
  return {
    status: f !== undefined ? 'diverges' : 'within tolerance',
    summary:
      finding !== undefined
        ? `${finding}, against ${against}${where}`
        : `diagnosis: no intermediate tensor above MAE ${diagnosis.tolerances.mae}, max abs ${diagnosis.tolerances.maxAbs} against ${against} (${diagnosis.tensors.length} compared): the error builds up across layers${where}`,
    baseline: baselineUri,
    baselineKind: diagnosis.baselineKind,
    tolerances: diagnosis.tolerances,
    ...(f !== undefined
      ? {
          firstDivergence: {
            modulePath: f.modulePath,
            node: f.node,
            op: f.op,
            tensor: f.tensor,
            depth: f.depth,
            mae: f.mae,
            maxAbs: f.maxAbs,
            nonFinite: f.nonFinite,
          },
        }
      : {}),
    tensors: diagnosis.tensors.length,
    ...(report ? { report } : {}),
    seconds: seconds(),
  };
}
