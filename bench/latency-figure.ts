/**
 * The report's figure: latency distribution per batch size (every measured run as a tick, a box of
 * the quartiles, the p50 with its 95% interval, the numbers written beside it) for each model and
 * provider, and, for a comparison, the per-pair ratio candidate/baseline against the 1.00 line.
 * Drawn with vega-lite, rendered to SVG headless by vega (no canvas, no browser).
 *
 * `latencyFigureSpec` is pure (tested without rendering); `renderLatencySvg` only compiles and renders.
 * It must not measure anything or read files.
 */
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };
import { BenchmarkError } from './bench-error';
import type { ComparisonReport, LatencyReport } from './report-types';

export interface FigureInput {
  /** Reports of one model, e.g. the CPU and the GPU report of an export. */
  readonly reports?: readonly LatencyReport[];
  readonly comparison?: ComparisonReport;
  readonly title?: string;
}

/** Plot width in pixels: wide enough for 200 ticks to read as a distribution. */
const PLOT_WIDTH = 460;
/** The axis ends at this multiple of the slowest series' p99; slower runs are counted in the text instead. */
const AXIS_END_OVER_P99 = 1.25;
/** Use a log axis when one batch size's slowest series is this many times its fastest (e.g. CPU vs CUDA). */
const LOG_AXIS_SPREAD = 15;

const fmtMs = (ms: number): string =>
  ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
const fmtRate = (r: number): string => (r >= 100 ? Math.round(r).toLocaleString('en-US') : r.toFixed(1));

function seriesName(report: LatencyReport, many: boolean): string {
  const ep = report.settings.executionProvider;
  const requested = report.settings.requestedExecutionProvider;
  const provider = ep === requested ? ep : `${requested}→${ep} (test)`;
  return many ? `${report.model.label} · ${provider}` : provider;
}

function hostLine(r: LatencyReport): string {
  const h = r.host;
  const s = r.settings;
  return `${h.cpuModel}, ${h.logicalCores} cores · onnxruntime ${h.onnxruntimeVersion} · ${s.intraOpThreads} intra-op threads, spinning ${s.allowSpinning ? 'on' : 'off'} · load ${h.loadAverageStart.toFixed(1)}→${h.loadAverageEnd.toFixed(1)} · ${r.startedAt.slice(0, 16).replace('T', ' ')}Z`;
}

export function latencyFigureSpec(input: FigureInput): TopLevelSpec {
  const reports: LatencyReport[] = [
    ...(input.comparison ? [input.comparison.candidate, input.comparison.baseline] : []),
    ...(input.reports ?? []),
  ];
  const first = reports[0];
  if (!first) throw new BenchmarkError('a figure needs at least one report', { kind: 'figure' });
  const labels = new Set(reports.map((r) => r.model.label));
  const many = labels.size > 1;
  const series = reports.map((r) => seriesName(r, many));
  const batchSizes = [...new Set(reports.flatMap((r) => r.batches.map((b) => b.batchSize)))].sort((a, b) => a - b);

  const axisEnd = batchSizes.map(
    (batch) =>
      AXIS_END_OVER_P99 *
      Math.max(...reports.flatMap((r) => r.batches.filter((b) => b.batchSize === batch).map((b) => b.stats.p99))),
  );
  const samples: { series: string; ms: number }[][] = batchSizes.map(() => []);
  const summaries: Record<string, unknown>[][] = batchSizes.map(() => []);
  const warnings: string[] = [];
  /** Reports measured at different times: each row says how busy the machine was. */
  const separateRuns = new Set(reports.map((r) => r.startedAt)).size > 1;
  reports.forEach((r, i) => {
    const name = series[i] as string;
    for (const b of r.batches) {
      const k = batchSizes.indexOf(b.batchSize);
      const end = axisEnd[k] ?? Number.POSITIVE_INFINITY;
      for (const ms of b.samplesMs) if (ms <= end) samples[k]?.push({ series: name, ms });
      const beyond = b.samplesMs.filter((ms) => ms > end).length;
      const s = b.stats;
      summaries[k]?.push({
        series: name,
        p50: s.p50,
        lo: s.p50Ci95[0],
        hi: s.p50Ci95[1],
        text: `p50 ${fmtMs(s.p50)} ms [${fmtMs(s.p50Ci95[0])}–${fmtMs(s.p50Ci95[1])}] · p99 ${fmtMs(s.p99)} · max ${fmtMs(s.max)}${beyond ? ` (${beyond} off axis)` : ''} · CV ${(s.cv * 100).toFixed(0)}% · ${fmtRate(b.throughputPerSecond)} samples/s · n=${s.count}${separateRuns ? ` · load ${r.host.loadAverageStart.toFixed(1)}→${r.host.loadAverageEnd.toFixed(1)}` : ''}`,
      });
      if (!b.warmup.stable)
        warnings.push(`${name} batch ${b.batchSize}: warm-up did not settle (${b.warmup.runs} runs)`);
    }
  });

  const color = { field: 'series', type: 'nominal', legend: null, scale: { domain: series } } as const;
  const latencyRows = batchSizes.map((batch, k) => {
    const ms = (samples[k] ?? []).map((d) => d.ms);
    if (ms.length === 0) throw new BenchmarkError(`no samples at batch ${batch}`, { kind: 'figure', batchSize: batch });
    const lo = Math.min(...ms);
    const hi = Math.max(...ms);
    const log = lo > 0 && hi / lo > LOG_AXIS_SPREAD;
    const x = {
      field: 'ms',
      type: 'quantitative',
      title: `latency at batch ${batch} (ms${log ? ', log scale' : ''})`,
      scale: log ? { type: 'log', nice: false, padding: 8 } : { zero: false, nice: false, padding: 8 },
    } as const;
    const y = {
      field: 'series',
      type: 'nominal',
      title: null,
      sort: series,
      axis: { labelLimit: 400, labelFontSize: 11 },
    } as const;
    return {
      title: { text: `batch ${batch}`, anchor: 'start', fontSize: 13 },
      width: PLOT_WIDTH,
      height: { step: 42 },
      layer: [
        {
          data: { values: samples[k] },
          mark: { type: 'tick', opacity: 0.3, thickness: 1, size: 22 },
          encoding: { x, y, color },
        },
        {
          data: { values: samples[k] },
          mark: {
            type: 'boxplot',
            extent: 'min-max',
            size: 10,
            opacity: 0.55,
            median: { color: 'black' },
            ticks: false,
          },
          encoding: { x, y, color },
        },
        {
          data: { values: summaries[k] },
          mark: { type: 'rule', strokeWidth: 3, color: 'black', yOffset: 15 },
          encoding: { x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' }, y },
        },
        {
          data: { values: summaries[k] },
          mark: { type: 'text', align: 'left', baseline: 'middle', dx: 8, fontSize: 11, clip: false },
          encoding: { x: { value: PLOT_WIDTH }, y, text: { field: 'text' } },
        },
      ],
    };
  });

  const rows: unknown[] = [...latencyRows];
  const cmp = input.comparison;
  if (cmp) {
    const ratioRows: { batch: string; ratio: number }[] = [];
    const ratioSummary: Record<string, unknown>[] = [];
    for (const p of cmp.pairs) {
      const a = cmp.candidate.batches.find((b) => b.batchSize === p.batchSize);
      const b = cmp.baseline.batches.find((x) => x.batchSize === p.batchSize);
      if (!a || !b) continue;
      const batch = `batch ${p.batchSize}`;
      a.samplesMs.forEach((ms, i) => {
        const base = b.samplesMs[i];
        if (base && base > 0) ratioRows.push({ batch, ratio: ms / base });
      });
      const r = p.ratio;
      const verdict =
        r.verdict === 'same'
          ? 'no difference'
          : r.verdict === 'candidate-faster'
            ? `${cmp.candidate.model.label} faster`
            : `${cmp.baseline.model.label} faster`;
      ratioSummary.push({
        batch,
        median: r.median,
        lo: r.medianCi95[0],
        hi: r.medianCi95[1],
        text: `median ${r.median.toFixed(3)} [${r.medianCi95[0].toFixed(3)}–${r.medianCi95[1].toFixed(3)}] · p10–p90 ${r.p10.toFixed(2)}–${r.p90.toFixed(2)} · ${r.pairs} pairs · ${verdict}`,
      });
    }
    const y = { field: 'batch', type: 'nominal', title: null, sort: batchSizes.map((b) => `batch ${b}`) } as const;
    const x = {
      field: 'ratio',
      type: 'quantitative',
      title: `${cmp.candidate.model.label} ÷ ${cmp.baseline.model.label} per interleaved pair (below 1: candidate faster; log scale)`,
      scale: { type: 'log', nice: false, padding: 8 },
    } as const;
    rows.push({
      title: { text: 'per-pair ratio', anchor: 'start', fontSize: 13 },
      width: PLOT_WIDTH,
      height: { step: 42 },
      layer: [
        {
          data: { values: ratioRows },
          mark: { type: 'tick', opacity: 0.3, thickness: 1, size: 22, color: '#7b4fa0' },
          encoding: { x, y },
        },
        {
          data: { values: [{ one: 1 }] },
          mark: { type: 'rule', strokeDash: [4, 3], color: '#444' },
          encoding: { x: { field: 'one', type: 'quantitative' } },
        },
        {
          data: { values: ratioSummary },
          mark: { type: 'rule', strokeWidth: 3, color: 'black', yOffset: 15 },
          encoding: { x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' }, y },
        },
        {
          data: { values: ratioSummary },
          mark: { type: 'point', filled: true, color: 'black', size: 40, yOffset: 15 },
          encoding: { x: { field: 'median', type: 'quantitative' }, y },
        },
        {
          data: { values: ratioSummary },
          mark: { type: 'text', align: 'left', baseline: 'middle', dx: 8, fontSize: 11 },
          encoding: { x: { value: PLOT_WIDTH }, y, text: { field: 'text' } },
        },
      ],
    });
  }

  const subtitle = [
    hostLine(first),
    'ticks: every measured run · box: quartiles, whiskers min–max (axis ends at 1.25×p99) · black bar: 95% interval of the median',
    ...(cmp ? ['candidate and baseline interleaved in one process, order alternating per pair'] : []),
    ...warnings,
  ];
  const title =
    input.title ??
    (cmp ? `${cmp.candidate.model.label} vs ${cmp.baseline.model.label}` : `Latency · ${[...labels].join(', ')}`);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle, anchor: 'start', fontSize: 16, subtitleFontSize: 11, subtitleColor: '#444' },
    background: 'white',
    padding: 12,
    config: {
      view: { stroke: '#ddd' },
      axis: { labelFontSize: 11, titleFontSize: 11 },
      range: { category: { scheme: 'tableau10' } },
    },
    spacing: 26,
    vconcat: rows,
  } as TopLevelSpec;
}

/** Renders the figure to a standalone SVG document. */
export async function renderLatencySvg(input: FigureInput): Promise<string> {
  const spec = latencyFigureSpec(input);
  try {
    const vl = await import('vega-lite');
    const vega = await import('vega');
    const compiled = vl.compile(spec).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
    const svg = await view.toSVG();
    view.finalize();
    return svg;
  } catch (cause) {
    throw new BenchmarkError(
      `the latency figure could not be rendered: ${(cause as Error).message}`,
      { kind: 'figure' },
      { cause },
    );
  }
}
