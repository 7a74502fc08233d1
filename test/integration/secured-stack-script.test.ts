/**
 * `STACK_SECURED=1 scripts/stack.sh up` really is secured: every assertion comes from a real client
 * (the Temporal CLI and SDK, openssl s_client, curl, the minio client, node https) against a throw-away
 * secured stack on its own ports. Temporal only through the mutual-TLS proxy; MinIO over TLS only and
 * with its own credentials; MLflow over TLS with basic auth, where the pipeline's user is no admin.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import * as Minio from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findProjectRoot } from '../../config/environment';
import { freePorts } from './support/fault-injection';
import { SECURED_STACK_PORTS, securedStack, type SecuredStack } from './support/secured-stack';

const run = promisify(execFile);
const root = findProjectRoot();
const uniqueName = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

let stack: SecuredStack;

beforeAll(async () => {
  stack = await securedStack();
}, 300_000);

afterAll(async () => {
  await stack?.down();
}, 120_000);

async function temporalBin(): Promise<string> {
  const { stdout } = await run('bash', ['-c', `source "${join(root, 'scripts/lib/common.sh')}" && temporal_bin`]);
  return stdout.trim();
}

/** Runs a command to its end; never throws (the exit code is the result). */
async function attempt(cmd: string, args: string[], timeout = 30_000): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const hostPort = (endpoint: string) => {
  const [host, port] = endpoint.replace(/^https?:\/\//, '').split(':');
  return { host: host as string, port: Number(port) };
};

/** One HTTPS request verified against the stack's CA; resolves with the status and body. */
function request(
  url: string,
  opts: { method?: string; auth?: { username: string; password: string }; body?: unknown; ca?: string } = {},
): Promise<{ status: number; body: string }> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: opts.method ?? 'GET',
        ca: readFileSync(opts.ca ?? stack.tls.ca),
        headers: {
          ...(opts.auth
            ? {
                authorization: `Basic ${Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')}`,
              }
            : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const mlflowApi = (path: string) => `${stack.endpoints.mlflow}/api/2.0/mlflow/${path}`;

describe('secured stack: Temporal behind the mutual-TLS proxy', () => {
  const cli = async (tlsArgs: string[]) =>
    attempt(await temporalBin(), [
      'operator',
      'cluster',
      'health',
      '--address',
      stack.endpoints.temporal,
      '--command-timeout',
      '10s',
      ...tlsArgs,
    ]);

  it('serves a client with the stack’s client certificate (Temporal CLI and the TypeScript SDK)', async () => {
    const ok = await cli([
      '--tls-ca-path',
      stack.tls.ca,
      '--tls-cert-path',
      stack.tls.clientCert,
      '--tls-key-path',
      stack.tls.clientKey,
    ]);
    expect(ok.out).toContain('SERVING');
    expect(ok.code).toBe(0);

    const connection = await Connection.connect({
      address: stack.endpoints.temporal,
      connectTimeout: '10 seconds',
      tls: {
        serverNameOverride: stack.env.TEMPORAL_TLS_SERVER_NAME,
        serverRootCACertificate: readFileSync(stack.tls.ca),
        clientCertPair: { crt: readFileSync(stack.tls.clientCert), key: readFileSync(stack.tls.clientKey) },
      },
    });
    try {
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.capabilities).toBeTruthy();
    } finally {
      await connection.close();
    }
  });

  it('refuses a client without a certificate, with the rogue CA’s certificate, and in plaintext', async () => {
    const noCert = await cli(['--tls-ca-path', stack.tls.ca]);
    expect(noCert.code).not.toBe(0);
    expect(noCert.out).not.toContain('SERVING');

    const rogue = await cli([
      '--tls-ca-path',
      stack.tls.ca,
      '--tls-cert-path',
      stack.rogue.clientCert,
      '--tls-key-path',
      stack.rogue.clientKey,
    ]);
    expect(rogue.code).not.toBe(0);
    expect(rogue.out).not.toContain('SERVING');

    const plain = await cli(['--tls=false']);
    expect(plain.code).not.toBe(0);
    expect(plain.out).not.toContain('SERVING');

    await expect(
      Connection.connect({
        address: stack.endpoints.temporal,
        connectTimeout: '3 seconds',
        tls: {
          serverNameOverride: stack.env.TEMPORAL_TLS_SERVER_NAME,
          serverRootCACertificate: readFileSync(stack.tls.ca),
          clientCertPair: { crt: readFileSync(stack.rogue.clientCert), key: readFileSync(stack.rogue.clientKey) },
        },
      }),
    ).rejects.toThrow();
  });

  it('asks for a client certificate from the stack’s CA, and presents a server certificate for 127.0.0.1', async () => {
    const { host, port } = hostPort(stack.endpoints.temporal);
    // s_client reads stdin; an empty one makes it close right after the handshake.
    const { out } = await attempt('bash', [
      '-c',
      `openssl s_client -connect ${host}:${port} -CAfile "${stack.tls.ca}" -verify_ip ${host} -alpn h2 </dev/null 2>&1`,
    ]);
    expect(out).toContain('Acceptable client certificate CA names');
    expect(out).toContain('onnx-export-pipeline test CA');
    expect(out).toContain('Verify return code: 0 (ok)');
    expect(out).toContain('ALPN protocol: h2');
  });
});

describe('secured stack: start-up', () => {
  it('refuses to start with MinIO’s default credentials, before starting anything', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'onnx-export-secured-defaults-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, ...freePorts(SECURED_STACK_PORTS), STACK_SECURED: '1' };
      env.ONNX_EXPORT_STATE_DIR = stateDir;
      delete env.AWS_ACCESS_KEY_ID;
      delete env.AWS_SECRET_ACCESS_KEY;
      const refused = await run('bash', [join(root, 'scripts/stack.sh'), 'up'], { env, timeout: 60_000 }).then(
        () => undefined,
        (e: { code?: number; stderr?: string }) => e,
      );
      expect(refused?.code).toBe(1);
      expect(refused?.stderr).toContain('other than minioadmin');
      expect(existsSync(join(stateDir, 'pids'))).toBe(false);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('secured stack: MinIO', () => {
  const minio = (secretKey: string) => {
    const { host, port } = hostPort(stack.endpoints.s3);
    return new Minio.Client({
      endPoint: host,
      port,
      useSSL: true,
      accessKey: stack.s3Credentials.accessKey,
      secretKey,
      transportAgent: new https.Agent({ ca: readFileSync(stack.tls.ca) }),
    });
  };

  it('answers over https with the stack’s CA, and not over plain http or without trusting the CA', async () => {
    const health = await attempt('curl', [
      '-fsS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--cacert',
      stack.tls.ca,
      `${stack.endpoints.s3}/minio/health/live`,
    ]);
    expect(health).toMatchObject({ code: 0, out: '200' });

    // MinIO's TLS listener answers a plaintext request with 400 and nothing else.
    const plain = await attempt('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      `${stack.endpoints.s3.replace('https://', 'http://')}/minio/health/live`,
    ]);
    expect(plain.out).not.toBe('200');

    const untrusted = await attempt('curl', ['-sS', '-o', '/dev/null', `${stack.endpoints.s3}/minio/health/live`]);
    expect(untrusted.code).toBe(60); // curl: peer certificate cannot be authenticated
  });

  it('takes its own credentials and answers a request signed with a wrong secret with 403', async () => {
    const good = minio(stack.s3Credentials.secretKey);
    expect(await good.bucketExists('heimdall-models')).toBe(true);

    const bad = minio(`${stack.s3Credentials.secretKey}-wrong`);
    const err = (await bad.listBuckets().then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: string; amzRequestid?: string; $metadata?: unknown } | undefined;
    expect(err?.code).toBe('SignatureDoesNotMatch');
    const status = await attempt('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--cacert',
      stack.tls.ca,
      '--aws-sigv4',
      'aws:amz:us-east-1:s3',
      '--user',
      `${stack.s3Credentials.accessKey}:wrong-secret`,
      `${stack.endpoints.s3}/`,
    ]);
    expect(status.out).toBe('403');
  });
});

describe('secured stack: MLflow over TLS with basic auth', () => {
  it('asks for a login, and /health stays open for probes', async () => {
    expect((await request(mlflowApi('registered-models/search'))).status).toBe(401);
    expect((await request(`${stack.endpoints.mlflow}/health`)).status).toBe(200);
    const plain = await attempt('curl', [
      '-sS',
      '-o',
      '/dev/null',
      `${stack.endpoints.mlflow.replace('https://', 'http://')}/health`,
    ]);
    expect(plain.code).not.toBe(0);
  });

  it('lets the pipeline user read /version, create and get a registered model, and nothing of others', async () => {
    const auth = stack.pipelineAuth;
    expect(auth.username).toBe('onnx-export-pipeline');
    const version = await request(`${stack.endpoints.mlflow}/version`, { auth });
    expect(version.status).toBe(200);

    const name = uniqueName('secured');
    const created = await request(mlflowApi('registered-models/create'), { method: 'POST', auth, body: { name } });
    expect(created.status, created.body).toBe(200);
    const got = await request(mlflowApi(`registered-models/get?name=${encodeURIComponent(name)}`), { auth });
    expect(got.status, got.body).toBe(200);
    expect(JSON.parse(got.body).registered_model.name).toBe(name);

    // default_permission = NO_PERMISSIONS: a model the admin made is neither readable nor listed.
    const adminsModel = uniqueName('admins');
    const byAdmin = await request(mlflowApi('registered-models/create'), {
      method: 'POST',
      auth: stack.adminAuth,
      body: { name: adminsModel },
    });
    expect(byAdmin.status, byAdmin.body).toBe(200);
    const peek = await request(mlflowApi(`registered-models/get?name=${encodeURIComponent(adminsModel)}`), { auth });
    expect(peek.status).toBe(403);
    const listed = await request(mlflowApi('registered-models/search?max_results=1000'), { auth });
    expect(listed.status).toBe(200);
    const names = (JSON.parse(listed.body).registered_models ?? []).map((m: { name: string }) => m.name);
    expect(names).toContain(name);
    expect(names).not.toContain(adminsModel);
  });

  it('refuses a wrong password with 401 and an admin-only action by the pipeline user with 403', async () => {
    const wrong = { username: stack.pipelineAuth.username, password: `${stack.pipelineAuth.password}x` };
    expect((await request(mlflowApi('registered-models/search'), { auth: wrong })).status).toBe(401);
    expect((await request(`${stack.endpoints.mlflow}/version`, { auth: wrong })).status).toBe(401);

    const createUser = await request(mlflowApi('users/create'), {
      method: 'POST',
      auth: stack.pipelineAuth,
      body: { username: uniqueName('intruder'), password: 'a-long-enough-password' },
    });
    expect(createUser.status).toBe(403);
    const promote = await request(mlflowApi('users/update-admin'), {
      method: 'PATCH',
      auth: stack.pipelineAuth,
      body: { username: stack.pipelineAuth.username, is_admin: true },
    });
    expect(promote.status).toBe(403);
  });

  it('keeps secrets out of stack.env and in a 0600 secrets.env', async () => {
    const stackEnv = readFileSync(join(stack.stateDir, 'stack.env'), 'utf8');
    for (const secret of [stack.pipelineAuth.password, stack.adminAuth.password, stack.s3Credentials.secretKey]) {
      expect(stackEnv).not.toContain(secret);
    }
    const { stdout } = await run('stat', ['-c', '%a', join(stack.stateDir, 'secrets.env')]);
    expect(stdout.trim()).toBe('600');
    const logs = await run('bash', ['-c', `cat "${stack.stateDir}"/logs/*.log`], { maxBuffer: 64 * 1024 * 1024 });
    expect(logs.stdout).not.toContain(stack.adminAuth.password);
    expect(logs.stdout).not.toContain(stack.pipelineAuth.password);
  });
});
