/**
 * Integration (issue 23, "the pipeline diagnoses its own failures"), on the real Temporal, MinIO and
 * MLflow with the real parity and diagnose/: (a) a brought graph with one hidden-layer weight
 * corrupted, whose reference.safetensors also holds PyTorch's intermediates (a forward hook on the
 * PyTorch model, Debian's torch), fails the export at parity, and the failure names the corrupted
 * layer against those intermediates; the report (JSON, SVG) is stored beside the staged graph and
 * nothing is published; (b) an int8 variant that misses its gate fails alone, naming its first
 * divergence against the fp32 graph, with its report stored beside the int8 graph; (c) the training
 * service's own torch export of HeimdallNet (make_heimdall_bundle.py, Debian's torch), brought with
 * the best_model.pth it was exported from and a reference without intermediates, fails at parity
 * naming where it parts from our own graph emitted from that checkpoint: the baked batch in the set
 * aggregator, or, on the batch it was exported at, the NaN of its atan2 in the geometry encoder; a
 * checkpoint we cannot emit from leaves the failure as it was, saying why there is no diagnosis.
 * Each shows the reason in the Web UI's current details.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import type { ParityDiagnosis } from '../../common/export-contract';
import type { ExportRequest } from '../../common/export-request';
import { FAILURE_TYPES } from '../../common/failure-types';
import type { Diagnosis } from '../../diagnose';
import { MlflowClient } from '../../registry/mlflow-client';
import { ContentAddressedStore, createMinioClient, minioS3Operations } from '../../storage';
import type { HiddenWeight } from '../unit/diagnose-seeded-corruption';
import { SMALL_BUNDLE } from '../unit/models-fixtures';
import { corruptedGraphBundle } from './support/corrupted-graph-bundle';
import { makeGraphBundle, makeWeightsBundle } from './support/heimdall-fixtures';
import { versionsOf } from './support/raw-bundles';
import { uniqueName } from './support/stack';
import { useWorkerHost } from './support/worker-host';

const QUICK_BENCHMARK = { batchSizes: [1], maxRuns: 5, timeBudgetMs: 500, gpu: false };
/** The seed whose hidden weight is `backbone.0.4.1.weight`, a downsampling Conv in the backbone's middle. */
const CORRUPTION_SEED = 4;

/** The checkpoint a HeimdallNet graph bundle carries, under the training service's own name. */
const SERVICE_CHECKPOINT = 'best_model.pth';

const root = mkdtempSync(join(tmpdir(), 'parity-diagnosis-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the parity gate's failure names the first divergent layer (Temporal, MinIO, MLflow, diagnose/)", () => {
  const live = useWorkerHost();
  let store: ContentAddressedStore;
  let mlflow: MlflowClient;
  const names: string[] = [];

  beforeAll(() => {
    store = new ContentAddressedStore(minioS3Operations(createMinioClient(live.config.s3)), {
      bucket: live.config.s3.modelsBucket,
    });
    mlflow = new MlflowClient(live.config.mlflow.trackingUri, live.config.mlflow.token);
  });
  afterAll(async () => {
    for (const name of names.flatMap((n) => [n, `${n}-int8`]))
      await mlflow.call('DELETE', 'registered-models/delete', { name }).catch(() => undefined);
  });

  const request = (checkpointUri: string, extra: Partial<ExportRequest> = {}): ExportRequest => {
    const modelName = uniqueName('selfdiag');
    names.push(modelName);
    return { checkpointUri, modelName, runId: uniqueName('run'), benchmark: QUICK_BENCHMARK, ...extra };
  };
  const currentDetails = async (h: WorkflowHandle) =>
    (await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails;
  /** The stored report at an s3:// URI of the models bucket. */
  const stored = async (uri: string): Promise<string> => {
    const prefix = `s3://${live.config.s3.modelsBucket}/`;
    expect(uri.startsWith(prefix)).toBe(true);
    return (await store.readSmall(uri.slice(prefix.length))).toString('utf8');
  };

  /** HeimdallNet as the training service exports it, with the best_model.pth of the same weights beside it. */
  const serviceExportWithCheckpoint = async (cases: 'default' | 'single'): Promise<string> => {
    const [graph, weights] = await Promise.all([
      makeGraphBundle({ model: 'heimdall_net', export: 'service', cases }),
      makeWeightsBundle({ model: 'heimdall_net', weights: 'pth' }),
    ]);
    copyFileSync(weights.weightsPath, join(graph.dir, SERVICE_CHECKPOINT));
    return graph.dir;
  };
  /** Exports a bundle folder that must fail at parity: its failure, the staged graph's URI prefix, what was diagnosed. */
  const failedParity = async (dir: string) => {
    const { uri: checkpointUri } = await uploadBundle(live.config, dir);
    const req = request(checkpointUri);
    const modelName = req.modelName as string;
    const started = Date.now();
    const { handle } = await startExport(live.client, req);
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const activity = (err as WorkflowFailedError).cause as ActivityFailure;
    expect(activity).toBeInstanceOf(ActivityFailure);
    expect(activity.activityType).toBe('checkParity');
    const app = activity.cause as ApplicationFailure;
    expect(app).toBeInstanceOf(ApplicationFailure);
    expect(app).toMatchObject({ type: FAILURE_TYPES.parityFailed, nonRetryable: true });
    const [, sha256] = /parity failed for s3:\/\/[^/]+\/staging\/([0-9a-f]{64})\/model\.onnx: /.exec(app.message) ?? [];
    expect(sha256).toBeDefined();
    // Nothing published or registered; the Web UI (the workflow's current details) shows the message.
    expect(await store.stat(`models/${modelName}/${sha256}/MLmodel`)).toBeUndefined();
    expect(await versionsOf(live.config, modelName)).toEqual([]);
    expect(await currentDetails(handle)).toBe(`**parity failed**\n\n${app.message}`);
    return {
      app,
      checkpointUri,
      staged: `s3://${live.config.s3.modelsBucket}/staging/${sha256}`,
      diagnosis: app.details?.[1] as ParityDiagnosis,
      elapsed,
    };
  };

  it('a brought graph with a corrupted hidden weight fails at parity naming that layer against the reference’s PyTorch intermediates; the report is stored beside the staged graph', async () => {
    const dir = join(root, 'corrupted');
    const weight: HiddenWeight = await corruptedGraphBundle(dir, CORRUPTION_SEED);
    expect(weight.modulePath).toBe('backbone.0.4.1');
    const { app, checkpointUri, staged, diagnosis, elapsed } = await failedParity(dir);
    expect(app.message).toContain(
      `; first divergence at \`${weight.modulePath}\` (Conv node \`${weight.node}\`), MAE `,
    );
    expect(app.message).toContain(
      `, against PyTorch's intermediates in ${checkpointUri}reference.safetensors; diagnosis report ${staged}/parity-diagnosis.json`,
    );
    expect(app.message, 'names objects, not the worker-local copies').not.toContain(live.config.workDir);
    expect(diagnosis).toMatchObject({
      status: 'diverges',
      baselineKind: 'reference intermediates',
      firstDivergence: { modulePath: weight.modulePath, node: weight.node, op: 'Conv' },
      report: { json: `${staged}/parity-diagnosis.json`, svg: `${staged}/parity-diagnosis.svg` },
    });

    // The report, beside the staged graph; nothing published.
    const report = JSON.parse(await stored(`${staged}/parity-diagnosis.json`)) as Diagnosis;
    expect(report).toMatchObject({
      candidate: `${staged}/model.onnx`,
      baseline: `${checkpointUri}reference.safetensors`,
      firstDivergence: { modulePath: weight.modulePath },
    });
    expect(report.tensors.length).toBeGreaterThan(10);
    expect(await stored(`${staged}/parity-diagnosis.svg`)).toContain(`first divergence: ${weight.modulePath}`);
    console.log(`brought corrupted graph: failed in ${elapsed} ms: ${app.message}`);
  });

  it('the same graph without intermediates in its reference fails as before, the message saying the diagnosis had no baseline', async () => {
    const dir = join(root, 'no-intermediates');
    await corruptedGraphBundle(dir, CORRUPTION_SEED);
    copyFileSync(join(SMALL_BUNDLE, 'reference.safetensors'), join(dir, 'reference.safetensors'));
    const { app, checkpointUri, diagnosis } = await failedParity(dir);
    expect(app.message).toMatch(/^parity failed for s3:\/\/.+\/model\.onnx: positions: MAE /);
    expect(app.message).toMatch(
      new RegExp(
        `; diagnosis not possible: no baseline: no graph to compare with, and ${checkpointUri}reference\\.safetensors holds no intermediates \\(.*\\)$`,
      ),
    );
    expect(diagnosis).toMatchObject({ status: 'not possible' });
  });

  it('the same graph carrying a checkpoint we cannot emit from (an unknown architecture) fails as before, the message saying why there is no diagnosis', async () => {
    const dir = join(root, 'unknown-architecture');
    await corruptedGraphBundle(dir, CORRUPTION_SEED);
    copyFileSync(join(SMALL_BUNDLE, 'reference.safetensors'), join(dir, 'reference.safetensors'));
    copyFileSync(join(SMALL_BUNDLE, 'model.safetensors'), join(dir, 'model.safetensors'));
    const config = JSON.parse(readFileSync(join(SMALL_BUNDLE, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, architecture: 'NoSuchNet' }));
    const { app, checkpointUri, diagnosis } = await failedParity(dir);
    expect(app.message).toMatch(/^parity failed for s3:\/\/.+\/model\.onnx: positions: MAE /);
    expect(app.message).toContain(
      `; diagnosis not possible: the diagnosis against our own emitted graph of ${checkpointUri}model.safetensors failed: our graph could not be emitted: ${checkpointUri}config.json: `,
    );
    expect(app.message).toContain('NoSuchNet');
    expect(app.message, 'names objects, not the worker-local copies').not.toContain(live.config.workDir);
    expect(diagnosis).toMatchObject({ status: 'not possible' });
    console.log(`brought graph with an unknown architecture's checkpoint: ${diagnosis.summary}`);
  });

  it('an int8 variant that misses its gate fails alone, naming its first divergence against the fp32 graph; its report is stored beside the int8 graph', async () => {
    const { uri: checkpointUri } = await uploadBundle(live.config, SMALL_BUNDLE);
    const started = Date.now();
    // maxFloatFraction 0: plain int8, no search; no int8 graph meets MAE 1e-9.
    const { handle } = await startExport(
      live.client,
      request(checkpointUri, { variants: ['fp32', 'int8'], int8: { parity: { mae: 1e-9 }, maxFloatFraction: 0 } }),
    );
    const result = await handle.result();
    const elapsed = Date.now() - started;
    expect(result.parity.passed).toBe(true);
    const int8 = result.variants.int8;
    expect(int8).toMatchObject({ status: 'failed', stage: 'int8:parity', failureType: FAILURE_TYPES.parityFailed });
    const reason = int8?.status === 'failed' ? int8.reason : '';
    const [, sha256] = /parity failed for s3:\/\/[^/]+\/staging\/([0-9a-f]{64})\/model\.onnx: /.exec(reason) ?? [];
    expect(sha256).toBeDefined();
    expect(sha256).not.toBe(result.sha256);
    const staged = `s3://${live.config.s3.modelsBucket}/staging/${sha256}`;
    expect(reason).toMatch(/; first divergence at `[^`]+` \(\w+ node `[^`]+`\), MAE [0-9.]+e[-+]\d+ > 1e-9/);
    expect(reason).toContain(
      `, against the fp32 graph ${result.onnx.uri}; diagnosis report ${staged}/parity-diagnosis.json`,
    );

    const report = JSON.parse(await stored(`${staged}/parity-diagnosis.json`)) as Diagnosis;
    expect(report).toMatchObject({
      candidate: `${staged}/model.onnx`,
      baseline: result.onnx.uri,
      baselineKind: 'graph',
      tolerances: { mae: 1e-9, maxAbs: 0.15 },
    });
    const first = report.firstDivergence;
    expect(first).toBeDefined();
    expect(reason).toContain(
      `first divergence at \`${first?.modulePath || first?.node}\` (${first?.op} node \`${first?.node}\`)`,
    );
    expect(await currentDetails(handle)).toBe(`**int8:parity failed**\n\n${reason}`);
    console.log(`int8 missing its gate: export done in ${elapsed} ms; int8: ${reason}`);
  });

  it("HeimdallNet as the training service exports it, brought with its best_model.pth: fails at parity naming where it parts from our own graph emitted from that checkpoint (the baked batch in the set aggregator); the report shows the atan2's NaN in the geometry encoder", async () => {
    const { app, checkpointUri, staged, diagnosis, elapsed } = await failedParity(
      await serviceExportWithCheckpoint('default'),
    );
    const checkpoint = `${checkpointUri}${SERVICE_CHECKPOINT}`;
    expect(app.message).toMatch(/^parity failed for s3:\/\/.+: position: \d+ NaN\/Inf values in the model's output/);
    // Exported at batch 1, the graph reuses sample 0's receiver encodings for the other samples of a
    // batch: the first tensor it shares with ours that differs is the set aggregator's quality net.
    expect(app.message).toMatch(
      /; first divergence at `set_aggregator\.quality_net\.0` \(Add node `\/set_aggregator\/quality_net\/quality_net\.0\/Add`\), MAE [0-9.]+e[-+]\d+ > 0\.00001/,
    );
    expect(app.message).toContain(
      `, against our own emitted graph of ${checkpoint}; diagnosis report ${staged}/parity-diagnosis.json`,
    );
    expect(app.message, 'names objects, not the worker-local copies').not.toContain(live.config.workDir);
    expect(diagnosis).toMatchObject({
      status: 'diverges',
      baseline: checkpoint,
      baselineKind: 'graph',
      firstDivergence: { modulePath: 'set_aggregator.quality_net.0', nonFinite: 0 },
      report: { json: `${staged}/parity-diagnosis.json`, svg: `${staged}/parity-diagnosis.svg` },
    });
    const report = JSON.parse(await stored(`${staged}/parity-diagnosis.json`)) as Diagnosis;
    expect(report).toMatchObject({ candidate: `${staged}/model.onnx`, baseline: checkpoint, baselineKind: 'graph' });
    // The atan2 written as Div(y, x): 0/0 on the diagonal pairs, NaN from the angle encoder on.
    const firstNaN = report.tensors.find((t) => t.nonFinite > 0);
    expect(firstNaN).toMatchObject({ modulePath: 'geometry_encoder.angle_encoder.0' });
    expect(report.tensors.filter((t) => t.modulePath.startsWith('geometry_encoder.distance_encoder'))).not.toEqual([]);
    expect(await stored(`${staged}/parity-diagnosis.svg`)).toContain('first divergence: set_aggregator.quality_net.0');
    console.log(
      `HeimdallNet service export + ${SERVICE_CHECKPOINT}: failed in ${elapsed} ms, diagnosis ${diagnosis.seconds.toFixed(1)} s, ` +
        `${report.tensors.length} tensors compared, ${report.unmatched.length} unmatched: ${app.message}`,
    );
  });

  it('the same export on the one case of the batch it was exported at: the first divergence is the NaN of its atan2, in the geometry encoder', async () => {
    const { app, checkpointUri, diagnosis } = await failedParity(await serviceExportWithCheckpoint('single'));
    expect(app.message).toMatch(
      /; first divergence at `geometry_encoder\.angle_encoder\.0` \(\w+ node `\/geometry_encoder\/angle_encoder\/angle_encoder\.0\/\w+`\), \d+ NaN\/Inf where the baseline is finite/,
    );
    expect(app.message).toContain(`, against our own emitted graph of ${checkpointUri}${SERVICE_CHECKPOINT}; `);
    expect(diagnosis.firstDivergence?.nonFinite).toBeGreaterThan(0);
    console.log(`HeimdallNet service export, one case at batch 1: ${diagnosis.summary}`);
  });
});
