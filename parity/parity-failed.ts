/**
 * The error a parity miss raises where a caller must stop (the check-parity activity): the graph ran
 * and missed the reference, so no retry can help. It carries the whole report, and the diagnosis of
 * where the graph parts from its baseline when one was tried; activities/failures.ts turns it into a
 * non-retryable `ParityFailed` failure with the report (then the diagnosis) as its details.
 */
import type { ParityDiagnosis } from '../common/export-contract';
import type { ParityReport } from './parity-report';

export class ParityFailedError extends Error {
  override readonly name = 'ParityFailedError';

  /**
   * `subject` is what the caller knows the graph as (its s3:// URI in an export); `diagnosis`, when
   * one was tried, where the graph parts from its baseline (its summary ends the message).
   */
  constructor(
    readonly subject: string,
    readonly report: ParityReport,
    readonly diagnosis?: ParityDiagnosis,
  ) {
    super(`parity failed for ${subject}: ${report.failures.join('; ')}${diagnosis ? `; ${diagnosis.summary}` : ''}`);
  }
}
