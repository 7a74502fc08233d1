/**
 * The foundation's first path, against the real Temporal, MinIO and MLflow: a worker runs the
 * stackSmoke workflow; the object and the registered model are then checked directly in the servers.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_QUEUES } from '../../common/constants';
import type { PipelineConfig } from '../../config/environment';
import { connectClient, workflowUiLink } from '../../temporal/connect';
import { MlflowClient } from '../../registry/mlflow-client';
import { createMinioClient } from '../../storage/minio-client';
import { createWorkerHost, type WorkerHost } from '../../worker/run-worker';
import { requireStack, uniqueName } from './support/stack';

const run = promisify(execFile);

describe('stack smoke path (Temporal, MinIO, MLflow)', () => {
  let config: PipelineConfig;
  let host: WorkerHost;
  let running: Promise<void>;

  beforeAll(async () => {
    config = await requireStack();
    host = await createWorkerHost(config);
    running = host.run();
  });

  afterAll(async () => {
    host?.shutdown();
    await running;
  });

  it('writes and reads back an object in MinIO and creates and reads a registered model in MLflow', async () => {
    const client = await connectClient(config);
    const workflowId = uniqueName('stack-smoke-test');
    const modelName = uniqueName('smoke-model');
    const result = await client.workflow.execute('stackSmoke', {
      taskQueue: TASK_QUEUES.export,
      workflowId,
      args: [{ registeredModelName: modelName }],
      workflowExecutionTimeout: '2 minutes',
    });
    await client.connection.close();

    expect(result.object.uri).toBe(`s3://${config.s3.modelsBucket}/smoke/${workflowId}.txt`);
    const stat = await createMinioClient(config.s3).statObject(config.s3.modelsBucket, `smoke/${workflowId}.txt`);
    expect(stat.size).toBe(result.object.bytes);
    expect(stat.metaData.sha256).toBe(result.object.sha256);

    const model = await new MlflowClient(config.mlflow.trackingUri).getRegisteredModel(modelName);
    expect(model?.name).toBe(modelName);
    expect(result.registeredModel.serverVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('builds a Web UI link that the dev server answers', async () => {
    const link = workflowUiLink(config, 'any-id', 'any-run');
    expect(link).toBe(`${config.temporal.uiUrl}/namespaces/default/workflows/any-id/any-run/history`);
    const res = await fetch(config.temporal.uiUrl);
    expect(res.status).toBe(200);
  });

  it('doctor --json reports every service reachable with its version and nothing missing', async () => {
    const cli = join(config.projectRoot, 'bin', 'onnx-export.js');
    const { stdout } = await run('node', [cli, 'doctor', '--json']);
    const report = JSON.parse(stdout) as {
      ok: boolean;
      services: { service: string; reachable: boolean; version?: string; missing: string[] }[];
    };
    expect(report.ok).toBe(true);
    expect(report.services.map((s) => s.service)).toEqual(['temporal', 'minio', 'mlflow']);
    for (const s of report.services) {
      expect(s.reachable, s.service).toBe(true);
      expect(s.version, s.service).toBeTruthy();
      expect(s.missing, s.service).toEqual([]);
    }
    const cache = (JSON.parse(stdout) as { workCache: { root: string; cachedBytes: number; maxBytes: number } })
      .workCache;
    expect(cache.root).toBe(config.workDir);
    expect(cache.maxBytes).toBeGreaterThan(0);
    expect(cache.cachedBytes).toBeGreaterThanOrEqual(0);
    // Never a secret: the access and secret keys must not appear anywhere in the report.
    expect(stdout).not.toContain(config.s3.secretKey);
    expect(stdout).not.toContain(config.s3.accessKey);
  });
});
