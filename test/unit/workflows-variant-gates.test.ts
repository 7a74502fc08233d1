/**
 * exportModel's branches with stub activities, on the SDK's TestWorkflowEnvironment: a dev server of
 * its own (the Go-built Temporal CLI that scripts/setup.sh puts in the cache; nothing is downloaded),
 * the real workflow bundle, and activities that return canned reports or fail as a test says. What it
 * proves is the workflow's: which activities run in which order, what they are given, which
 * `ExportStage` values are upserted, what the progress query and the result say. The activities
 * themselves, and the servers they talk to, are the integration tests' (int8-variant, export-model).
 * In the unit project because it needs no stack: one local process on a free port, in memory, gone
 * after the file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities';
import { startExport } from '../../client/export-starter';
import { TASK_QUEUES } from '../../common/constants';
import type { ExportProgress, ExportStage } from '../../common/export-contract';
import type { ExportRequest } from '../../common/export-request';
import { FAILURE_TYPES } from '../../common/failure-types';
import { searchAttributeKeys } from '../../common/search-attributes';
import { findProjectRoot } from '../../config/environment';
import { workflowsEntry } from '../../worker/run-worker';
import type { exportModel } from '../../workflows/export-model';

/** Starting the dev server and bundling the workflows take most of a test file's time. */
const SETUP_TIMEOUT_MS = 120_000;
const FP32_SHA = 'a'.repeat(64);
const INT8_SHA = 'b'.repeat(64);

try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // Already installed in this process: keep the first.
}

/** The Temporal CLI scripts/lib/common.sh names (and scripts/setup.sh builds): one place says where. */
function temporalCli(): string {
  const root = findProjectRoot();
  const out = spawnSync('bash', ['-c', `source "${join(root, 'scripts/lib/common.sh')}" && temporal_bin`], {
    encoding: 'utf8',
  });
  const path = out.stdout.trim();
  if (!path || !existsSync(path))
    throw new Error(`the Temporal CLI is not at '${path}': run scripts/setup.sh, which builds it`);
  return path;
}

type Variant = 'fp32' | 'int8';
type StubbedActivity = 'validateStructure' | 'checkParity' | 'publishModel' | 'registerModel';
/** What one export's stub activities do: by default every gate passes. */
interface Scenario {
  /** The activity that fails for a variant, and how. */
  fail?: { variant: Variant; activity: StubbedActivity; type: string };
  /** The accuracy-aware search's record the quantize stub returns in its report. */
  search?: Record<string, unknown>;
  calls: { activity: string; input: Record<string, unknown> }[];
}

const scenarios = new Map<string, Scenario>();

/** The scenario of the export whose activity is running (by its workflow id), with the call recorded. */
function record(activity: string, input: unknown): Scenario {
  const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
  const scenario = scenarios.get(workflowId);
  if (!scenario) throw new Error(`no scenario for ${workflowId}`);
  scenario.calls.push({ activity, input: input as Record<string, unknown> });
  return scenario;
}

function variantOf(sha256: string): Variant {
  return sha256 === INT8_SHA ? 'int8' : 'fp32';
}

function failIfAsked(scenario: Scenario, activity: StubbedActivity, sha256: string): void {
  const fail = scenario.fail;
  if (fail && fail.activity === activity && fail.variant === variantOf(sha256))
    throw ApplicationFailure.nonRetryable(`${activity} of the ${fail.variant} graph: stubbed ${fail.type}`, fail.type);
}

const artifact = (sha256: string) => ({ uri: `s3://models/staging/${sha256}/model.onnx`, sha256, bytes: 1000 });

/** Canned results, shaped as the workflow reads them; the real ones are the activities' own tests'. */
const stubs = {
  async emitGraph(input: unknown) {
    record('emitGraph', input);
    return {
      onnx: artifact(FP32_SHA),
      source: 'emitted',
      producer: { name: 'onnx-export-pipeline', version: 'test' },
      settings: {},
      checkpointSha256: 'c'.repeat(64),
      opset: 17,
      nodes: 42,
      signature: { inputs: [], outputs: [] },
    };
  },
  async validateStructure(onnx: { sha256: string }) {
    failIfAsked(record('validateStructure', onnx), 'validateStructure', onnx.sha256);
    return { ok: true, opset: 17, problems: [] };
  },
  async checkParity(input: { onnx: { sha256: string } }) {
    failIfAsked(record('checkParity', input), 'checkParity', input.onnx.sha256);
    return { passed: true, outputs: { positions: { mae: 1e-7, maxAbs: 1e-6 } } };
  },
  async quantizeGraph(input: unknown) {
    const scenario = record('quantizeGraph', input);
    return {
      onnx: artifact(INT8_SHA),
      report: {
        method: 'minmax',
        calibration: { source: 'calibration.safetensors' },
        ...(scenario.search ? { accuracySearch: scenario.search } : {}),
      },
    };
  },
  async benchmarkLatency(input: unknown) {
    record('benchmarkLatency', input);
    return { batches: [{ batchSize: 1, stats: { p50: 1.5, p95: 2.5 } }] };
  },
  async publishModel(input: { artifact: { sha256: string }; modelName: string }) {
    failIfAsked(record('publishModel', input), 'publishModel', input.artifact.sha256);
    const { sha256 } = input.artifact;
    return {
      modelName: input.modelName,
      sha256,
      source: `s3://models/models/${input.modelName}/${sha256}`,
      written: true,
    };
  },
  async registerModel(input: { published: { modelName: string; sha256: string } }) {
    failIfAsked(record('registerModel', input), 'registerModel', input.published.sha256);
    const { modelName, sha256 } = input.published;
    const version = variantOf(sha256) === 'int8' ? '7' : '3';
    return { modelName, version, sha256, created: true, modelUri: `models:/${modelName}/${version}` };
  },
  async workflowUiLink(workflowId: string) {
    record('workflowUiLink', workflowId);
    return `http://ui/${workflowId}`;
  },
} satisfies Partial<Record<keyof Activities, (...args: never[]) => Promise<unknown>>>;

describe('exportModel with stub activities (TestWorkflowEnvironment)', () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundle;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCli() },
        searchAttributes: Object.values(searchAttributeKeys),
      },
    });
    bundle = await bundleWorkflowCode({ workflowsPath: workflowsEntry(), logger: new DefaultLogger('WARN') });
    const workers = await Promise.all([
      Worker.create({
        connection: env.nativeConnection,
        taskQueue: TASK_QUEUES.export,
        workflowBundle: bundle,
        activities: stubs,
      }),
      Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.bench, activities: stubs }),
    ]);
    const running = Promise.all(workers.map((w) => w.run()));
    stop = async () => {
      for (const w of workers) w.shutdown();
      await running;
    };
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await stop?.();
    await env?.teardown();
  });

  let counter = 0;
  /** Starts an export through the real starter, with its scenario registered under its workflow id. */
  async function exportWith(
    request: Partial<ExportRequest>,
    fail?: Scenario['fail'],
    search?: Scenario['search'],
  ): Promise<{ handle: WorkflowHandle<typeof exportModel>; scenario: Scenario }> {
    counter += 1;
    const scenario: Scenario = { calls: [], ...(fail ? { fail } : {}), ...(search ? { search } : {}) };
    const modelName = `gates-${counter}`;
    scenarios.set(`export-${modelName}-run-${counter}`, scenario);
    const started = await startExport(env.client, {
      checkpointUri: 's3://checkpoints/bundles/b/',
      modelName,
      runId: `run-${counter}`,
      benchmark: { gpu: false },
      ...request,
    });
    expect(scenarios.has(started.workflowId)).toBe(true);
    return { handle: started.handle, scenario };
  }

  const activitiesOf = (s: Scenario) => s.calls.map((c) => c.activity);
  const progressOf = (h: WorkflowHandle<typeof exportModel>) => h.query<ExportProgress>('progress');
  /** What the Web UI shows as the workflow's current details (the SDK's built-in metadata query). */
  const currentDetailsOf = async (h: WorkflowHandle) =>
    (await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails;
  /** Every ExportStage value the export upserted, in order, from its history. */
  async function stageUpserts(handle: WorkflowHandle): Promise<ExportStage[]> {
    const events = (await handle.fetchHistory()).events ?? [];
    const field = searchAttributeKeys.exportStage.name;
    return events.flatMap((e) => {
      const payload = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[field];
      return payload?.data ? [JSON.parse(Buffer.from(payload.data).toString('utf8')) as ExportStage] : [];
    });
  }

  it('fp32 and int8 pass through the same gates in the same order, each published and registered under its own name', async () => {
    const { handle, scenario } = await exportWith({ variants: ['fp32', 'int8'] });
    const result = await handle.result();

    const gates = ['validateStructure', 'checkParity', 'benchmarkLatency', 'publishModel', 'registerModel'];
    expect(activitiesOf(scenario)).toEqual(['emitGraph', ...gates, 'quantizeGraph', ...gates, 'workflowUiLink']);
    expect(await stageUpserts(handle)).toEqual([
      'emit',
      'validate',
      'parity',
      'benchmark',
      'publish',
      'register',
      'int8:quantize',
      'int8:validate',
      'int8:parity',
      'int8:benchmark',
      'int8:publish',
      'int8:register',
      'done',
    ]);
    expect(result.registry).toMatchObject({ modelName: 'gates-1', version: '3' });
    expect(result.variants.int8).toMatchObject({
      status: 'published',
      modelName: 'gates-1-int8',
      sha256: INT8_SHA,
      registry: { modelName: 'gates-1-int8', version: '7' },
    });
    const registered = scenario.calls.filter((c) => c.activity === 'registerModel').map((c) => c.input);
    expect(registered[0]).toMatchObject({ variant: 'fp32', alias: 'staging', opset: 17, cpuP95Ms: 2.5 });
    expect(registered[0]).not.toHaveProperty('derivedFrom');
    expect(registered[1]).toMatchObject({
      variant: 'int8',
      alias: 'staging',
      derivedFrom: { modelVersion: '3', onnxSha256: FP32_SHA },
      calibration: { method: 'minmax', source: 'calibration.safetensors' },
    });
    // The quantize stage gets the gate (the int8 defaults) and the search's default bound.
    expect(scenario.calls.find((c) => c.activity === 'quantizeGraph')?.input).toMatchObject({
      accuracy: { mae: 0.03, maxAbs: 0.15, maxFloatFraction: 0.2 },
    });
    const parity = scenario.calls.filter((c) => c.activity === 'checkParity').map((c) => c.input);
    expect(parity[0]).not.toHaveProperty('mae');
    expect(parity[1]).toMatchObject({ mae: expect.any(Number), maxAbs: expect.any(Number) });
    // A parity miss of int8 is diagnosed against the fp32 graph; fp32's has no graph to name.
    expect(parity[0]).not.toHaveProperty('diagnosisBaseline');
    expect(parity[1]).toMatchObject({ diagnosisBaseline: { sha256: FP32_SHA } });
    expect(await progressOf(handle)).toMatchObject({
      stage: 'done',
      completedStages: [
        'emit',
        'validate',
        'parity',
        'benchmark',
        'publish',
        'register',
        'int8:quantize',
        'int8:validate',
        'int8:parity',
        'int8:benchmark',
        'int8:publish',
        'int8:register',
      ],
      variants: { int8: { status: 'published', stage: 'int8:register' } },
    });
  });

  it('int8 fails alone: an int8 parity failure leaves fp32 published and registered, and variants.int8 failed at int8:parity', async () => {
    const { handle, scenario } = await exportWith(
      { variants: ['fp32', 'int8'] },
      { variant: 'int8', activity: 'checkParity', type: FAILURE_TYPES.parityFailed },
    );
    const result = await handle.result();

    expect(result.published).toMatchObject({ modelName: 'gates-2', sha256: FP32_SHA });
    expect(result.registry).toMatchObject({ modelName: 'gates-2', version: '3' });
    expect(result.variants.int8).toEqual({
      status: 'failed',
      stage: 'int8:parity',
      reason: `checkParity of the int8 graph: stubbed ${FAILURE_TYPES.parityFailed}`,
      failureType: FAILURE_TYPES.parityFailed,
    });
    // The Web UI's current details say which stage failed and why.
    expect(await currentDetailsOf(handle)).toBe(
      `**int8:parity failed**\n\ncheckParity of the int8 graph: stubbed ${FAILURE_TYPES.parityFailed}`,
    );
    // Nothing of int8 after its parity: one publish and one register, both fp32's.
    expect(activitiesOf(scenario).slice(-4)).toEqual([
      'quantizeGraph',
      'validateStructure',
      'checkParity',
      'workflowUiLink',
    ]);
    expect(scenario.calls.filter((c) => c.activity === 'publishModel').map((c) => c.input.modelName)).toEqual([
      'gates-2',
    ]);
    expect(scenario.calls.filter((c) => c.activity === 'registerModel').map((c) => c.input.variant)).toEqual(['fp32']);
    expect((await stageUpserts(handle)).slice(-4)).toEqual(['int8:quantize', 'int8:validate', 'int8:parity', 'done']);
    expect(await progressOf(handle)).toMatchObject({
      stage: 'done',
      variants: { int8: { status: 'failed', stage: 'int8:parity', reason: expect.stringMatching(/^int8:parity: /) } },
    });
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  });

  it('an int8 register failure fails the int8 variant alone, at int8:register, after its publish', async () => {
    const { handle, scenario } = await exportWith(
      { variants: ['fp32', 'int8'] },
      { variant: 'int8', activity: 'registerModel', type: FAILURE_TYPES.invalidInput },
    );
    const result = await handle.result();
    expect(result.registry).toMatchObject({ modelName: 'gates-3', version: '3' });
    expect(result.variants.int8).toMatchObject({
      status: 'failed',
      stage: 'int8:register',
      failureType: FAILURE_TYPES.invalidInput,
    });
    expect(scenario.calls.filter((c) => c.activity === 'publishModel').map((c) => c.input.modelName)).toEqual([
      'gates-3',
      'gates-3-int8',
    ]);
  });

  it('a parity failure stops before publish: the export fails at parity and no publish or register activity is called', async () => {
    const { handle, scenario } = await exportWith(
      { variants: ['fp32', 'int8'] },
      { variant: 'fp32', activity: 'checkParity', type: FAILURE_TYPES.parityFailed },
    );
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );

    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ActivityFailure);
    expect(cause?.cause).toMatchObject({ type: FAILURE_TYPES.parityFailed });
    expect(activitiesOf(scenario)).toEqual(['emitGraph', 'validateStructure', 'checkParity']);
    expect(await stageUpserts(handle)).toEqual(['emit', 'validate', 'parity', 'failed:parity']);
    expect(await progressOf(handle)).toMatchObject({
      stage: 'failed',
      completedStages: ['emit', 'validate'],
      failure: `parity: checkParity of the fp32 graph: stubbed ${FAILURE_TYPES.parityFailed}`,
    });
    expect(await currentDetailsOf(handle)).toBe(
      `**parity failed**\n\ncheckParity of the fp32 graph: stubbed ${FAILURE_TYPES.parityFailed}`,
    );
    const description = await handle.describe();
    expect(description.status.name).toBe('FAILED');
    expect(description.typedSearchAttributes.get(searchAttributeKeys.exportStage)).toBe('failed:parity');
  });

  const searchRecord = (passed: boolean) => ({
    gate: { mae: 0.004, maxAbs: 0.15 },
    maxFloatFraction: 0.1,
    quantizable: 20,
    maxFloat: 2,
    passed,
    stop: passed ? 'passed' : 'bound',
    floatNodes: [
      { node: 'stem/Conv', rise: 0.2 },
      { node: 'head.0/Gemm', rise: 0.1 },
    ],
    reached: { mae: passed ? 0.0035 : 0.0051, maxAbs: 0.02, score: passed ? 0.875 : 1.275 },
    rounds: [{}, {}, {}],
    rankings: 2,
    seconds: 3,
  });

  it('the nodes the search kept float go to the int8 version: register gets them, publish stores the report', async () => {
    const search = searchRecord(true);
    const { handle, scenario } = await exportWith(
      { variants: ['fp32', 'int8'], int8: { parity: { mae: 0.004 }, maxFloatFraction: 0.1 } },
      undefined,
      search,
    );
    const result = await handle.result();
    expect(result.variants.int8).toMatchObject({ status: 'published' });
    expect(scenario.calls.find((c) => c.activity === 'quantizeGraph')?.input).toMatchObject({
      accuracy: { mae: 0.004, maxAbs: 0.15, maxFloatFraction: 0.1 },
    });
    const registered = scenario.calls.filter((c) => c.activity === 'registerModel').map((c) => c.input);
    expect(registered[1]).toMatchObject({ keptFloat: { nodes: ['stem/Conv', 'head.0/Gemm'], quantizable: 20 } });
    expect(registered[0]).not.toHaveProperty('keptFloat');
    const published = scenario.calls.filter((c) => c.activity === 'publishModel').map((c) => c.input);
    expect(published[1]).toMatchObject({
      quantizationReport: { accuracySearch: search },
      metadata: { int8_float_nodes: '2' },
    });
  });

  it('at the bound, int8 fails alone at parity with a reason naming the best MAE and max the search reached and its float nodes', async () => {
    const { handle } = await exportWith(
      { variants: ['fp32', 'int8'], int8: { parity: { mae: 0.004 }, maxFloatFraction: 0.1 } },
      { variant: 'int8', activity: 'checkParity', type: FAILURE_TYPES.parityFailed },
      searchRecord(false),
    );
    const result = await handle.result();
    expect(result.registry).toMatchObject({ version: '3' });
    expect(result.variants.int8).toMatchObject({ status: 'failed', stage: 'int8:parity' });
    const reason = result.variants.int8?.status === 'failed' ? result.variants.int8.reason : '';
    expect(reason).toMatch(
      /^checkParity of the int8 graph: stubbed ParityFailed; accuracy-aware int8 stopped at the bound/,
    );
    expect(reason).toContain('(at most 2 of 20 quantizable nodes float, maxFloatFraction 0.1)');
    expect(reason).toContain('keeps 2 nodes float, MAE 5.100e-3, max abs error 2.000e-2 (gate MAE ≤ 0.004');
  });
});
