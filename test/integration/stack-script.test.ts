/**
 * scripts/stack.sh itself: a second, throw-away stack on its own ports and state folder (so the
 * stack the other tests use is untouched). Uses the real Temporal CLI, MinIO and MLflow binaries.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { findProjectRoot } from '../../config/environment';

const run = promisify(execFile);
const root = findProjectRoot();
const stackScript = join(root, 'scripts', 'stack.sh');
const temporal = spawnSync('bash', ['-c', `source ${join(root, 'scripts/lib/common.sh')}; temporal_bin`])
  .stdout.toString()
  .trim();

// Ports far from both the developer stack (7233...) and the test stack (17233...).
const ports = {
  TEMPORAL_PORT: '27233',
  TEMPORAL_UI_PORT: '28233',
  TEMPORAL_HTTP_PORT: '27243',
  TEMPORAL_METRICS_PORT: '27253',
  MINIO_PORT: '29000',
  MINIO_CONSOLE_PORT: '29001',
  MLFLOW_PORT: '25000',
};
const stateDir = mkdtempSync(join(tmpdir(), 'onnx-export-stack-test-'));
const env = { ...process.env, ...ports, ONNX_EXPORT_STATE_DIR: stateDir };

function stack(...args: string[]) {
  return run('bash', [stackScript, ...args], { env, timeout: 240_000 });
}

function pidsOf(): number[] {
  const dir = join(stateDir, 'pids');
  return ['temporal', 'minio', 'mlflow']
    .map((n) => join(dir, `${n}.pid`))
    .filter((f) => existsSync(f))
    .map((f) => Number(readFileSync(f, 'utf8').trim()));
}

function alive(pid: number): boolean {
  // A zombie has no cmdline: it is gone for our purposes.
  const cmdline = `/proc/${pid}/cmdline`;
  return existsSync(cmdline) && readFileSync(cmdline).length > 0;
}

async function searchAttributes(): Promise<string> {
  const { stdout } = await run(temporal, [
    'operator',
    'search-attribute',
    'list',
    '--address',
    `127.0.0.1:${ports.TEMPORAL_PORT}`,
  ]);
  return stdout;
}

describe('scripts/stack.sh', () => {
  afterAll(async () => {
    await stack('down').catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('refuses a taken port with a message that names the port, the service and the variable', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(Number(ports.TEMPORAL_PORT), '127.0.0.1', resolve));
    try {
      const err = await stack('up').then(
        () => undefined,
        (e: { stderr: string; code: number }) => e,
      );
      expect(err, 'stack up must fail').toBeDefined();
      expect(err!.code).not.toBe(0);
      expect(err!.stderr).toContain(`port ${ports.TEMPORAL_PORT} (Temporal frontend) is already in use`);
      expect(err!.stderr).toContain('TEMPORAL_PORT=');
      expect(pidsOf().filter(alive)).toEqual([]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('starts all three healthy, keeps the search attributes across a restart, and down stops exactly what up started', async () => {
    await stack('up');
    const first = pidsOf();
    expect(first).toHaveLength(3);
    expect(first.every(alive)).toBe(true);
    const { stdout: status } = await stack('status');
    expect(status).toMatch(/temporal: running, healthy/);
    expect(status).toMatch(/minio: running, healthy/);
    expect(status).toMatch(/mlflow: running, healthy/);
    for (const sa of ['ModelName', 'OnnxSha256', 'TrainingRunId', 'ExportStage'])
      expect(await searchAttributes()).toContain(sa);

    await stack('down');
    expect(first.filter(alive)).toEqual([]);
    expect(pidsOf()).toEqual([]);
    const stopped = await stack('status').then(
      () => 'exit 0',
      (e: { stdout: string }) => e.stdout,
    );
    expect(stopped).toMatch(/temporal: stopped/);

    // Again against the existing SQLite file: the attributes are still (or again) registered.
    expect(existsSync(join(stateDir, 'temporal', 'temporal.db'))).toBe(true);
    await stack('up');
    const attrs = await searchAttributes();
    for (const sa of ['ModelName', 'OnnxSha256', 'TrainingRunId', 'ExportStage'])
      expect(attrs).toMatch(new RegExp(`${sa}\\s+Keyword`));
    const second = pidsOf();
    await stack('down');
    expect(second.filter(alive)).toEqual([]);
  });
});
