/**
 * Parity defaults, apart from run-parity.ts so that importing them (the CLI's option defaults) does
 * not load onnxruntime's native library. Constants only.
 */

/** Default tolerances (issue 3): PyTorch's own exporter lands near 5e-8 MAE, so 1e-5 flags real bugs only. */
export const DEFAULT_TOLERANCES = { mae: 1e-5, maxAbs: 1e-4 } as const;
/** Samples per onnxruntime run: bounds memory (32 × 3×128×32 floats = 1.5 MB in) and matches the benchmark's batch. */
export const DEFAULT_PARITY_BATCH = 32;
