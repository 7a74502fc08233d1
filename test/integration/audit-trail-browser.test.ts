/**
 * The audit trail in a real browser: after a full export on the real Temporal, MinIO and MLflow,
 * Debian's chromium (driven by playwright-core; headless, no sandbox, background networking off,
 * a fresh profile) opens the dev server's Web UI, finds the export by its ModelName search
 * attribute, opens it and sees each stage's activity summary. The screenshot is kept as
 * test-artifacts/audit-trail.png.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@temporalio/client';
import { chromium, type BrowserContext } from 'playwright-core';
import { findProjectRoot, type PipelineConfig } from '../../config/environment';
import { connectClient } from '../../temporal/connect';
import { uploadBundle } from '../../client/bundle-upload';
import { startExport } from '../../client/export-starter';
import type { ExportResult } from '../../workflows/export-model';
import { createWorkerHost, type WorkerHost } from '../../worker/run-worker';
import { makeBundle, SMALL_CONVNEXT } from './support/fixtures';
import { requireStack, uniqueName } from './support/stack';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** The UI loads its list from the visibility store, which trails the server by a second or so. */
const UI_WAIT_MS = 60_000;
const QUICK_BENCHMARK = {
  batchSizes: [1, 4],
  maxRuns: 20,
  timeBudgetMs: 1_000,
  gpuScheduleToStartTimeout: '3 seconds',
};

describe('the audit trail in the Temporal Web UI (chromium; Temporal, MinIO, MLflow)', () => {
  let config: PipelineConfig;
  let host: WorkerHost;
  let running: Promise<void>;
  let client: Client;
  let browser: BrowserContext | undefined;
  let profile: string | undefined;
  let result: ExportResult;
  const queue = uniqueName('audit');

  beforeAll(async () => {
    config = await requireStack();
    host = await createWorkerHost(config, { taskQueues: { export: queue } });
    running = host.run();
    client = await connectClient(config);
    const checkpointUri = (await uploadBundle(config, await makeBundle(SMALL_CONVNEXT))).uri;
    const { handle } = await startExport(
      client,
      { checkpointUri, modelName: uniqueName('audit'), runId: uniqueName('run'), benchmark: QUICK_BENCHMARK },
      { taskQueue: queue },
    );
    result = await handle.result();
    profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1600, height: 1400 },
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await client?.connection.close();
    host?.shutdown();
    await running;
  });

  it('finds the export by ModelName and shows every stage summary', async () => {
    if (!browser) throw new Error('chromium did not start');
    const page = await browser.newPage();
    const sha = result.sha256.slice(0, 12);
    const query = encodeURIComponent(`ModelName='${result.modelName}'`);
    await page.goto(`${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows?query=${query}`);

    // The list, filtered by the search attribute, shows this export; open it by its id.
    const link = page.getByRole('link', { name: result.workflowId, exact: true }).first();
    await link.waitFor({ state: 'visible', timeout: UI_WAIT_MS });
    await link.click();
    await page.waitForURL(/\/history/, { timeout: UI_WAIT_MS });

    const summaries = [
      `Emit ONNX opset 17 from ${result.checkpointUri.slice(0, 40)}`,
      `Check structure of ${sha} (${result.emission.nodes} nodes)`,
      'Parity vs PyTorch reference (MAE ≤',
      `CPU latency benchmark of ${result.modelName}@${sha}`,
      `Publish models/${result.modelName}/${sha}`,
      `Register ${result.modelName} version for ${sha} as @staging`,
    ];
    const missing: string[] = [];
    for (const text of summaries) {
      const ok = await page
        .getByText(text, { exact: false })
        .first()
        .waitFor({ state: 'visible', timeout: UI_WAIT_MS })
        .then(
          () => true,
          () => false,
        );
      if (!ok) missing.push(text);
    }
    const dir = join(findProjectRoot(), 'test-artifacts');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'audit-trail.png'), fullPage: true });
    expect(missing, 'stage summaries not visible in the Web UI').toEqual([]);
    await expect(page.getByText(result.workflowId).first().isVisible()).resolves.toBe(true);
  });
});
