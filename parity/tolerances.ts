/**
 * Parity defaults, apart from run-parity.ts so that importing them (the CLI's option defaults) does
 * not load onnxruntime's native library. Constants only.
 */

export { DEFAULT_TOLERANCES } from '../common/export-contract';
/** Samples per onnxruntime run: bounds memory (32 × 3×128×32 floats = 1.5 MB in) and matches the benchmark's batch. */
export const DEFAULT_PARITY_BATCH = 32;
