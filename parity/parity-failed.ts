/**
 * The error a parity miss raises where a caller must stop (the check-parity activity): the graph ran
 * and missed the reference, so no retry can help. It carries the whole report; activities/failures.ts
 * turns it into a non-retryable `ParityFailed` failure with the report as its details.
 */
import type { ParityReport } from './parity-report';

export class ParityFailedError extends Error {
  override readonly name = 'ParityFailedError';

  /** `subject` is what the caller knows the graph as (its s3:// URI in an export). */
  constructor(
    readonly subject: string,
    readonly report: ParityReport,
  ) {
    super(`parity failed for ${subject}: ${report.failures.join('; ')}`);
  }
}
