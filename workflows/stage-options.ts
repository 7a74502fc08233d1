/**
 * Every activity option the workflows use, in one place: how long each stage may run, how often it
 * is retried, when a silent worker counts as dead. Numbers, not behaviour: which stage runs when is
 * the workflows' business. Changing an option changes no command (a running export keeps the
 * options it scheduled with), so it needs no patch; a new stage adds its line here.
 *
 * Workflow code: no Node built-ins, no I/O.
 */
import type { ActivityOptions, Duration, RetryPolicy } from '@temporalio/common';
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { BENCHMARK_STAGE } from '../common/constants';
import { FAILURE_TYPES, FINAL_FAILURE_TYPES } from '../common/failure-types';

/**
 * The export stages' retry policy: exponential from 2 s, never retrying a final failure (activities
 * raise those as non-retryable too). Stages differ only in how long and how often they keep trying:
 * the computing stages (emit, quantize, validate, parity) up to 10 attempts a minute apart at most,
 * the server-facing ones (publish, register) up to 20, two minutes apart, to ride out a server restart.
 */
function stageRetry(maximumInterval: Duration, maximumAttempts: number): RetryPolicy {
  return {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval,
    maximumAttempts,
    nonRetryableErrorTypes: [...FINAL_FAILURE_TYPES],
  };
}
const COMPUTE_RETRY = stageRetry('1 minute', 10);
const SERVER_RETRY = stageRetry('2 minutes', 20);

/**
 * exportModel's stages, fp32's and every variant's alike. Heartbeat timeouts are short where the
 * activity heartbeats while it streams (emit, quantize, publish), so a killed worker's attempt is
 * retried within a minute, not an hour.
 */
export const STAGE_OPTIONS = {
  emit: { startToCloseTimeout: '30 minutes', heartbeatTimeout: '1 minute', retry: COMPUTE_RETRY },
  /** The int8 variant's quantize stage: calibration runs and the staging upload, heartbeating. */
  quantize: { startToCloseTimeout: '30 minutes', heartbeatTimeout: '1 minute', retry: COMPUTE_RETRY },
  validate: { startToCloseTimeout: '10 minutes', retry: COMPUTE_RETRY },
  parity: { startToCloseTimeout: '20 minutes', retry: COMPUTE_RETRY },
  publish: { startToCloseTimeout: '30 minutes', heartbeatTimeout: '1 minute', retry: SERVER_RETRY },
  register: { startToCloseTimeout: '5 minutes', retry: SERVER_RETRY },
  /** The export's Web UI link for its result: local string work, one short attempt class. */
  uiLink: { startToCloseTimeout: '1 minute' },
} as const satisfies Record<string, ActivityOptions>;

/**
 * The benchmark stage (workflows/benchmark-stage.ts): each benchmark, CPU or CUDA, heartbeats per
 * batch size; its queue, and the CUDA one's scheduleToStartTimeout, are set where it is scheduled.
 */
export const BENCHMARK_OPTIONS = {
  startToCloseTimeout: BENCHMARK_STAGE.startToCloseTimeout,
  heartbeatTimeout: BENCHMARK_STAGE.heartbeatTimeout,
  retry: { maximumAttempts: BENCHMARK_STAGE.maximumAttempts, initialInterval: '5 seconds' },
} as const satisfies ActivityOptions;

/** Whether a GPU worker polls (DescribeTaskQueue): quick, and a failed check just lets the wait decide. */
export const GPU_POLLER_CHECK_OPTIONS = {
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, initialInterval: '1 second' },
} as const satisfies ActivityOptions;

/** promoteModel's registry calls are short; retries ride out an MLflow restart, never a bad request. */
export const PROMOTION_CALL_OPTIONS = {
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [FAILURE_TYPES.invalidInput],
  },
} as const satisfies ActivityOptions;

/**
 * The export's activities. Every call gives its stage's options and a summary for the Web UI
 * (`executeWithOptions`), which override this default timeout.
 */
export const exportActivities = proxyActivities<Activities>({ startToCloseTimeout: '10 minutes' });
