/**
 * Plain-text tables of a LatencyReport or ComparisonReport for a terminal or a log. Pure formatting:
 * it must not compute statistics beyond what the report holds.
 */
import type { BatchLatency, BenchmarkFeeds, ComparisonReport, LatencyReport } from './report-types';

const ms = (v: number): string =>
  v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r.map((cell, c) => (c === 0 ? cell.padStart(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  '),
    )
    .join('\n');
}

function batchRow(b: BatchLatency): string[] {
  const s = b.stats;
  return [
    String(b.batchSize),
    ms(b.firstRunMs),
    `${ms(s.p50)} [${ms(s.p50Ci95[0])}–${ms(s.p50Ci95[1])}]`,
    ms(s.p90),
    ms(s.p99),
    ms(s.min),
    ms(s.max),
    ms(s.mean),
    `${(s.cv * 100).toFixed(0)}%`,
    b.throughputPerSecond >= 100
      ? Math.round(b.throughputPerSecond).toLocaleString('en-US')
      : b.throughputPerSecond.toFixed(1),
    String(s.count),
    `${b.warmup.runs}${b.warmup.stable ? '' : ' (unsettled)'}`,
    mib(b.peakRssBytes),
  ];
}

const HEADER = [
  'batch',
  'first ms',
  'p50 ms [95% CI]',
  'p90',
  'p99',
  'min',
  'max',
  'mean',
  'CV',
  'samples/s',
  'runs',
  'warm-up',
  'peak RSS',
];

/** `  fed iq float32 [batch, 7, 2] (random normal), ids int64 [batch, 7] (reference); receivers 7 (request)`. */
function feedsLine(f: BenchmarkFeeds): string {
  const inputs = f.inputs.map((i) => `${i.name} ${i.dtype} [${i.shape.join(', ')}] (${i.values})`).join(', ');
  const dims = Object.entries(f.dims).map(([d, size]) => `${d} ${size} (${f.dimsFrom[d] ?? '?'})`);
  const from = f.referenceCase !== undefined ? `; reference case ${f.referenceCase}` : '';
  return `  fed ${inputs}${dims.length > 0 ? `; ${dims.join(', ')}` : ''}${from}`;
}

export function formatLatencyReport(r: LatencyReport): string {
  const s = r.settings;
  const h = r.host;
  const provider =
    s.executionProvider === s.requestedExecutionProvider
      ? s.executionProvider
      : `${s.requestedExecutionProvider} requested, ran on ${s.executionProvider}`;
  const lines = [
    `${r.model.label}  ${r.model.bytes.toLocaleString('en-US')} bytes, sha256 ${r.model.sha256.slice(0, 16)}…`,
    `  ${provider}, ${s.intraOpThreads} intra-op threads, spinning ${s.allowSpinning ? 'on' : 'off'}, graph optimisation ${s.graphOptimizationLevel}; session created in ${ms(r.sessionCreationMs)} ms`,
    `  ${h.cpuModel}, ${h.logicalCores} cores, onnxruntime ${h.onnxruntimeVersion}, node ${h.nodeVersion}; load ${h.loadAverageStart.toFixed(2)} → ${h.loadAverageEnd.toFixed(2)}`,
    ...(s.testOnlyNote ? [`  NOTE ${s.testOnlyNote}`] : []),
    ...(r.feeds ? [feedsLine(r.feeds)] : []),
    table([HEADER, ...r.batches.map(batchRow)]).replace(/^/gm, '  '),
  ];
  return `${lines.join('\n')}\n`;
}

export function formatComparison(c: ComparisonReport): string {
  const lines = [
    `candidate ${formatLatencyReport(c.candidate)}`,
    `baseline  ${formatLatencyReport(c.baseline)}`,
    `${c.candidate.model.label} ÷ ${c.baseline.model.label}, per interleaved pair:`,
    ...c.pairs.map((p) => {
      const r = p.ratio;
      const verdict =
        r.verdict === 'same'
          ? 'no difference (1.00 inside the interval)'
          : r.verdict === 'candidate-faster'
            ? 'candidate faster'
            : 'baseline faster';
      return `  batch ${String(p.batchSize).padStart(3)}: median ${r.median.toFixed(3)} [95% CI ${r.medianCi95[0].toFixed(3)}–${r.medianCi95[1].toFixed(3)}], pairs p10–p90 ${r.p10.toFixed(3)}–${r.p90.toFixed(3)}, geometric mean ${r.geometricMean.toFixed(3)}, ${r.pairs} pairs (${p.candidateFirstPairs} candidate-first): ${verdict}`;
    }),
  ];
  return `${lines.join('\n')}\n`;
}
