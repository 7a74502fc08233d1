/** What machine and runtime a benchmark ran on, so two reports can be compared honestly. No timing here. */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import type { HostInfo } from './report-types';

export function onnxruntimeVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

export function loadAverage1m(): number {
  return loadavg()[0] ?? 0;
}

export function defaultThreadCount(): number {
  return availableParallelism();
}

export function hostInfo(loadAverageStart: number): HostInfo {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    logicalCores: availableParallelism(),
    totalMemoryBytes: totalmem(),
    platform: process.platform,
    arch: process.arch,
    nodeVersion: process.version,
    onnxruntimeVersion: onnxruntimeVersion(),
    loadAverageStart,
    loadAverageEnd: loadAverage1m(),
  };
}
