/** The benchmark library's public surface: measure, compare, summarise, draw, format. */
export { BenchmarkError } from './bench-error';
export type { BenchmarkErrorContext, BenchmarkErrorKind } from './bench-error';
export {
  BENCHMARK_LIBRARY_DEFAULTS,
  COMPARISON_BIAS_CONTROLS,
  benchmarkModel,
  compareModels,
  sessionOptions,
} from './latency-benchmark';
export type { BenchmarkOptions, ModelSource } from './latency-benchmark';
export { planFeeds, signatureFeeds } from './signature-feeds';
export type { FeedOptions, FeedPlan } from './signature-feeds';
export { latencyFigureSpec, renderLatencySvg } from './latency-figure';
export type { FigureInput } from './latency-figure';
export { formatComparison, formatLatencyReport } from './format-report';
export { makeProbeModel } from './probe-model';
export { runsAgree, summarize, summarizeRatios } from './statistics';
export type * from './report-types';
