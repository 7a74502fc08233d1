/**
 * Unit: the MLflow client's auth and TLS, against local servers: basic and bearer headers on every
 * request (`/version` too), 401/403 and TLS failures as non-retryable ServiceAccessErrors whose
 * messages name MLflow, the URL and the variables to set, and never a credential.
 */
import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toActivityFailure } from '../../activities/failures';
import { FAILURE_TYPES } from '../../common/failure-types';
import { createMlflowClient, MlflowApiError, MlflowClient } from '../../registry/mlflow-client';
import { splitCertAndKey } from '../../registry/mlflow-connection';
import { registerModelVersion } from '../../registry/register-model-version';
import { ServiceAccessError } from '../../config/service-access-error';
import {
  json,
  makeTlsFixtures,
  rejection,
  startHttpServer,
  startHttpsServer,
  type TestServer,
  type TlsFixtures,
} from './tls-fixtures';

const PASSWORD = 'pw-Sup3rSecret';
const TOKEN = 'tok-Sup3rSecret';
const noRetry = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 };

function expectNoSecrets(err: Error): void {
  const everything = `${err.message}\n${err.stack ?? ''}\n${JSON.stringify(err)}`;
  for (const secret of [PASSWORD, TOKEN, Buffer.from(`alice:${PASSWORD}`).toString('base64')])
    expect(everything).not.toContain(secret);
}

describe('MLflow client credentials', () => {
  let ok: TestServer;
  let status: TestServer;
  let answer = 401;

  beforeAll(async () => {
    ok = await startHttpServer((req, res) => {
      if (req.url === '/version') {
        res.end('2.99.0\n');
        return;
      }
      json(200, { registered_model: { name: 'm' } })(req, res);
    });
    status = await startHttpServer((req, res) =>
      json(answer, { error_code: 'PERMISSION_DENIED', message: 'Permission denied' })(req, res),
    );
  });
  afterAll(async () => {
    await ok.close();
    await status.close();
  });

  it('sends basic auth on every request, /version included, when username and password are set', async () => {
    ok.seen.length = 0;
    const client = createMlflowClient({ trackingUri: ok.url, username: 'alice', password: PASSWORD, token: TOKEN });
    expect(await client.serverVersion()).toBe('2.99.0');
    await client.getRegisteredModel('m');
    const basic = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
    expect(ok.seen.map((r) => r.headers.authorization)).toEqual([basic, basic]);
  });

  it('sends the bearer token when username and password are not both set (as MLflow does)', async () => {
    ok.seen.length = 0;
    await createMlflowClient({ trackingUri: ok.url, username: 'alice', token: TOKEN }).serverVersion();
    await new MlflowClient(ok.url, TOKEN).getRegisteredModel('m');
    expect(ok.seen.map((r) => r.headers.authorization)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
  });

  it('health() asks /health with the same credentials and reports its status', async () => {
    ok.seen.length = 0;
    expect(await new MlflowClient(ok.url, TOKEN).health()).toEqual({ ok: true, status: 200 });
    expect(ok.seen[0]).toMatchObject({ url: '/health', headers: { authorization: `Bearer ${TOKEN}` } });
    const down = await startHttpServer(json(503, {}));
    try {
      expect(await new MlflowClient(down.url).health()).toEqual({ ok: false, status: 503 });
    } finally {
      await down.close();
    }
  });

  it('sends no Authorization header without credentials', async () => {
    ok.seen.length = 0;
    await createMlflowClient({ trackingUri: ok.url }).serverVersion();
    expect(ok.seen[0]?.headers.authorization).toBeUndefined();
  });

  it('401 without credentials: names MLflow, the URL and what to set; not retried', async () => {
    answer = 401;
    status.seen.length = 0;
    const err = await rejection(() =>
      createMlflowClient({ trackingUri: status.url }, { retry: noRetry }).getRegisteredModel('m'),
    );
    expect(err).toBeInstanceOf(ServiceAccessError);
    expect((err as ServiceAccessError).context).toMatchObject({ service: 'MLflow', problem: 'auth', code: '401' });
    expect(err.message).toBe(
      `MLflow ${status.url}/api/2.0/mlflow/registered-models/get: HTTP 401 Unauthorized: no credentials were sent; ` +
        'set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) ' +
        '(now: MLFLOW_TRACKING_USERNAME unset, MLFLOW_TRACKING_PASSWORD unset, MLFLOW_TRACKING_TOKEN unset)',
    );
    expect(status.seen).toHaveLength(1);
  });

  it('401 with basic auth: says which user was refused and which variables are set, never the password', async () => {
    answer = 401;
    const err = await rejection(() =>
      createMlflowClient({
        trackingUri: status.url,
        username: 'alice',
        password: PASSWORD,
        token: TOKEN,
      }).serverVersion(),
    );
    expect(err).toBeInstanceOf(ServiceAccessError);
    expect(err.message).toContain(
      `MLflow ${status.url}/version: HTTP 401 Unauthorized: the server refused basic auth for user alice`,
    );
    expect(err.message).toContain(
      'MLFLOW_TRACKING_USERNAME set, MLFLOW_TRACKING_PASSWORD set, MLFLOW_TRACKING_TOKEN set',
    );
    expectNoSecrets(err);
  });

  it('403: the user lacks permission for the endpoint', async () => {
    answer = 403;
    const err = await rejection(() =>
      createMlflowClient({ trackingUri: status.url, username: 'alice', password: PASSWORD }).ensureRegisteredModel('m'),
    );
    expect(err).toBeInstanceOf(ServiceAccessError);
    expect(err.message).toBe(
      `MLflow ${status.url}/api/2.0/mlflow/registered-models/create: HTTP 403 Forbidden: ` +
        'user alice lacks permission for POST registered-models/create (server: Permission denied)',
    );
    expectNoSecrets(err);
  });

  it('the URL in a message has no query string', async () => {
    answer = 403;
    const err = await rejection(() =>
      new MlflowClient(status.url, TOKEN, { retry: noRetry }).searchModelVersions("name='m'"),
    );
    expect(err.message).toMatch(
      new RegExp(
        `^MLflow ${status.url}/api/2.0/mlflow/model-versions/search: HTTP 403 Forbidden: the user of MLFLOW_TRACKING_TOKEN lacks permission for GET model-versions/search`,
      ),
    );
    expect(err.message).not.toContain('filter');
    expectNoSecrets(err);
  });

  it('refuses a tracking URI with credentials in it, without printing them', () => {
    expect(() => new MlflowClient(status.url.replace('http://', 'http://bob:hunter2@'))).toThrow(
      /^MLflow tracking URI: credentials in the URL are not supported; set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD$/,
    );
  });

  it('other 4xx stay MlflowApiErrors, with any echoed secret scrubbed', async () => {
    const echo = await startHttpServer((req, res) =>
      json(400, { error_code: 'INVALID_PARAMETER_VALUE', message: `bad: ${req.headers.authorization}` })(req, res),
    );
    try {
      const err = await rejection(() => new MlflowClient(echo.url, TOKEN).getRegisteredModel('m'));
      expect(err).toBeInstanceOf(MlflowApiError);
      expect(err.message).toContain('bad: Bearer ***');
      expectNoSecrets(err);
    } finally {
      await echo.close();
    }
  });
});

describe('MLflow client: an alias set by two requests at once', () => {
  const conflict = {
    error_code: 'BAD_REQUEST',
    message:
      '(sqlite3.IntegrityError) UNIQUE constraint failed: registered_model_aliases.name, registered_model_aliases.alias',
  };

  it('a set-alias request that lost the insert to a concurrent one is sent again and succeeds', async () => {
    let answered = 0;
    const server = await startHttpServer((req, res) =>
      (answered++ === 0 ? json(400, conflict) : json(200, {}))(req, res),
    );
    try {
      await new MlflowClient(server.url).setRegisteredModelAlias('m', 'staging', '2');
      expect(server.seen.map((r) => r.url)).toEqual([
        '/api/2.0/mlflow/registered-models/alias',
        '/api/2.0/mlflow/registered-models/alias',
      ]);
    } finally {
      await server.close();
    }
  });

  it('any other 400 on set-alias is not sent again', async () => {
    const server = await startHttpServer(json(400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'no version 9' }));
    try {
      const err = await rejection(() => new MlflowClient(server.url).setRegisteredModelAlias('m', 'staging', '9'));
      expect(err).toBeInstanceOf(MlflowApiError);
      expect(server.seen).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('a conflict that persists ends as the MLflow error after three requests', async () => {
    const server = await startHttpServer(json(400, conflict));
    try {
      const err = await rejection(() => new MlflowClient(server.url).setRegisteredModelAlias('m', 'staging', '2'));
      expect(err.message).toContain('UNIQUE constraint failed');
      expect(server.seen).toHaveLength(3);
    } finally {
      await server.close();
    }
  });
});

describe('MLflow client TLS', () => {
  let tls: TlsFixtures;
  let trusted: TestServer;
  let stranger: TestServer;
  let otherHost: TestServer;
  let mutual: TestServer;
  let plain: TestServer;
  const version = (_req: unknown, res: { end(s: string): void }) => res.end('2.99.0');

  beforeAll(async () => {
    tls = makeTlsFixtures();
    trusted = await startHttpsServer(version, { cert: tls.serverCert, key: tls.serverKey });
    stranger = await startHttpsServer(version, { cert: tls.strangerCert, key: tls.strangerKey });
    otherHost = await startHttpsServer(version, { cert: tls.otherHostCert, key: tls.otherHostKey });
    mutual = await startHttpsServer(version, {
      cert: tls.serverCert,
      key: tls.serverKey,
      requireClientCertFrom: tls.caCert,
    });
    plain = await startHttpServer(version);
  });
  afterAll(async () => {
    for (const s of [trusted, stranger, otherHost, mutual, plain]) await s?.close();
    tls?.cleanup();
  });

  it('trusts the CA file of MLFLOW_TRACKING_SERVER_CERT_PATH', async () => {
    expect(await createMlflowClient({ trackingUri: trusted.url, serverCertPath: tls.caCert }).serverVersion()).toBe(
      '2.99.0',
    );
  });

  it('an untrusted certificate is a TLS ServiceAccessError naming MLFLOW_TRACKING_SERVER_CERT_PATH, not retried', async () => {
    const before = trusted.seen.length;
    const err = await rejection(() =>
      createMlflowClient({ trackingUri: trusted.url }, { retry: noRetry }).getRegisteredModel('m'),
    );
    expect(err).toBeInstanceOf(ServiceAccessError);
    expect((err as ServiceAccessError).context).toMatchObject({
      service: 'MLflow',
      problem: 'tls',
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    expect(err.message).toMatch(
      new RegExp(
        `^MLflow ${trusted.url}/api/2.0/mlflow/registered-models/get: TLS certificate verification failed \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
      ),
    );
    expect(err.message).toContain('set MLFLOW_TRACKING_SERVER_CERT_PATH');
    expect(trusted.seen).toHaveLength(before);
  });

  it('a self-signed certificate with the CA file set says that file does not verify it', async () => {
    const err = await rejection(() =>
      createMlflowClient({ trackingUri: stranger.url, serverCertPath: tls.caCert }).serverVersion(),
    );
    expect((err as ServiceAccessError).context).toMatchObject({ problem: 'tls', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(err.message).toContain(`MLFLOW_TRACKING_SERVER_CERT_PATH=${tls.caCert} does not verify it`);
  });

  it('a certificate for another host name says so', async () => {
    const err = await rejection(() =>
      createMlflowClient({ trackingUri: otherHost.url, serverCertPath: tls.caCert }).serverVersion(),
    );
    expect((err as ServiceAccessError).context).toMatchObject({ problem: 'tls', code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(err.message).toContain('the certificate does not name this host');
  });

  it('MLFLOW_TRACKING_INSECURE_TLS skips verification', async () => {
    expect(await createMlflowClient({ trackingUri: stranger.url, insecureTls: true }).serverVersion()).toBe('2.99.0');
  });

  it('refuses insecure TLS together with a CA file', () => {
    expect(() =>
      createMlflowClient({ trackingUri: trusted.url, insecureTls: true, serverCertPath: tls.caCert }),
    ).toThrow(/MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH/);
  });

  it('presents the client certificate of MLFLOW_TRACKING_CLIENT_CERT_PATH (one PEM, certificate and key)', async () => {
    const client = createMlflowClient({
      trackingUri: mutual.url,
      serverCertPath: tls.caCert,
      clientCertPath: tls.clientPem,
    });
    expect(await client.serverVersion()).toBe('2.99.0');
    const without = await rejection(() =>
      createMlflowClient(
        { trackingUri: mutual.url, serverCertPath: tls.caCert },
        { retry: noRetry },
      ).getRegisteredModel('m'),
    );
    // Under TLS 1.3 the server drops the connection after the handshake, which the client cannot tell
    // from a network fault ("other side closed"): it stays a retryable transport error.
    expect(without.message).toMatch(/^MLflow registered-models\/get: no answer/);
  });

  it('https:// to a plain-http server is a TLS ServiceAccessError that says so', async () => {
    const err = await rejection(() =>
      createMlflowClient({ trackingUri: plain.url.replace('http:', 'https:') }).serverVersion(),
    );
    expect(err).toBeInstanceOf(ServiceAccessError);
    expect((err as ServiceAccessError).context.problem).toBe('tls');
    expect(err.message).toContain('the server does not speak TLS');
    expect(err.message).toContain('MLFLOW_TRACKING_URI is https://');
  });

  it('http:// to a TLS-only proxy (its 400 says so) is a TLS ServiceAccessError', async () => {
    const nginxLike = await startHttpServer((_req, res) => {
      res.writeHead(400, { 'Content-Type': 'text/html' });
      res.end('<html><center>The plain HTTP request was sent to HTTPS port</center></html>');
    });
    try {
      const err = await rejection(() => createMlflowClient({ trackingUri: nginxLike.url }).serverVersion());
      expect(err).toBeInstanceOf(ServiceAccessError);
      expect(err.message).toContain('MLFLOW_TRACKING_URI is http://; use https://');
    } finally {
      await nginxLike.close();
    }
  });

  it('splits one PEM into certificate and key', () => {
    const { cert, key } = splitCertAndKey(readFileSync(tls.clientPem, 'utf8'));
    expect(cert).toMatch(/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\n$/);
    expect(key).toMatch(/^-----BEGIN PRIVATE KEY-----[\s\S]+-----END PRIVATE KEY-----\n$/);
    expect(() => splitCertAndKey(readFileSync(tls.caCert, 'utf8'))).toThrow(/MLFLOW_TRACKING_CLIENT_CERT_PATH/);
  });
});

describe('MLflow access failures in the register activity', () => {
  it('a 401 while registering ends as a non-retryable ServiceAuthFailed after one request', async () => {
    const server = await startHttpServer(json(401, { error_code: 'UNAUTHENTICATED', message: 'login required' }));
    try {
      const client = createMlflowClient({ trackingUri: server.url, username: 'alice', password: PASSWORD });
      const err = await rejection(() =>
        registerModelVersion(
          client,
          { modelName: 'm', sha256: 'a'.repeat(64), source: `s3://models/models/m/${'a'.repeat(64)}/` },
          { retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1 }, sleep: async () => {} },
        ),
      );
      expect(server.seen).toHaveLength(1);
      const failure = toActivityFailure(err);
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ type: FAILURE_TYPES.serviceAuthFailed, nonRetryable: true });
      expect(failure.message).toContain(
        `MLflow ${server.url}/api/2.0/mlflow/registered-models/create: HTTP 401 Unauthorized`,
      );
      expectNoSecrets(failure);
    } finally {
      await server.close();
    }
  });
});
