/**
 * Unit: the S3 client builder takes AWS_CA_BUNDLE and AWS_SESSION_TOKEN, and refused credentials
 * and failed TLS become non-retryable ServiceAccessErrors (kept as the StorageError's cause, and
 * ServiceAuthFailed / ServiceTlsFailed for the workflow), against local http(s) servers speaking
 * just enough S3.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toActivityFailure } from '../../activities/failures';
import { FAILURE_TYPES } from '../../common/failure-types';
import type { S3Config } from '../../config/environment';
import { ServiceAccessError } from '../../config/service-access-error';
import { createMinioClient, probeS3Endpoint } from '../../storage/minio-client';
import { ContentAddressedStore } from '../../storage/object-store';
import { isRetryableStorageError } from '../../storage/retry';
import { minioS3Operations } from '../../storage/s3-operations';
import { StorageError } from '../../storage/storage-error';
import {
  makeTlsFixtures,
  rejection,
  startHttpServer,
  startHttpsServer,
  type TestServer,
  type TlsFixtures,
} from './tls-fixtures';

const SECRET = 'secret-Sup3rSecret';
const SESSION = 'session-Sup3rSecret';
const retry = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 };

function s3For(endpoint: string, extra: Partial<S3Config> = {}): S3Config {
  return {
    endpoint,
    accessKey: 'AKIAEXAMPLEKEY',
    secretKey: SECRET,
    region: 'us-east-1',
    modelsBucket: 'models',
    checkpointsBucket: 'ckpt',
    caBundlePath: undefined,
    sessionToken: undefined,
    ...extra,
  };
}

/** 200 to HEAD (an object of 3 bytes), and `errorCode` as S3's XML error to anything else. */
function s3Like(errorCode: string | undefined) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'HEAD' || !errorCode) {
      res.writeHead(200, { 'content-length': '3', etag: '"abc"', 'last-modified': new Date().toUTCString() });
      res.end(req.method === 'HEAD' ? undefined : 'abc');
      return;
    }
    res.writeHead(403, { 'content-type': 'application/xml' });
    res.end(
      `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${errorCode}</Code><Message>refused</Message>` +
        `<Resource>${req.url}</Resource><RequestId>1</RequestId><HostId>h</HostId></Error>`,
    );
  };
}

function expectNoSecrets(err: unknown): void {
  let text = '';
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    text += `${e.message}\n${e.stack}\n${JSON.stringify(e)}\n`;
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(SESSION);
}

describe('S3 credentials', () => {
  let server: TestServer;
  let errorCode: string | undefined;

  beforeAll(async () => {
    server = await startHttpServer((req, res) => s3Like(errorCode)(req, res));
  });
  afterAll(() => server.close());

  it('sends AWS_SESSION_TOKEN as x-amz-security-token', async () => {
    errorCode = undefined;
    server.seen.length = 0;
    await createMinioClient(s3For(server.url, { sessionToken: SESSION })).statObject('models', 'k');
    expect(server.seen[0]?.headers['x-amz-security-token']).toBe(SESSION);
    await createMinioClient(s3For(server.url)).statObject('models', 'k');
    expect(server.seen[1]?.headers['x-amz-security-token']).toBeUndefined();
  });

  const cases: [string, RegExp][] = [
    [
      'InvalidAccessKeyId',
      /: InvalidAccessKeyId: the server knows no access key AKIA…; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \(now: access key AKIA…, AWS_SESSION_TOKEN set\)$/,
    ],
    [
      'SignatureDoesNotMatch',
      /: SignatureDoesNotMatch: AWS_SECRET_ACCESS_KEY is not the secret of access key AKIA…; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    ],
    [
      'AccessDenied',
      /: AccessDenied: access key AKIA… lacks permission for PUT s3:\/\/models\/k \(or the credentials are wrong: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN\)/,
    ],
    [
      'ExpiredToken',
      /: ExpiredToken: the temporary credentials have expired or are invalid; refresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN/,
    ],
  ];
  for (const [code, message] of cases) {
    it(`${code} is a ServiceAccessError naming S3, the endpoint and the variables; never retried`, async () => {
      errorCode = code;
      server.seen.length = 0;
      const client = createMinioClient(s3For(server.url, { sessionToken: SESSION }));
      const store = new ContentAddressedStore(minioS3Operations(client), {
        bucket: 'models',
        retry,
        sleep: async () => {},
      });
      const err = await rejection(() => store.putBytes('k', Buffer.from('abc')));
      expect(err).toBeInstanceOf(StorageError);
      expect(isRetryableStorageError(err)).toBe(false);
      const access = err.cause as ServiceAccessError;
      expect(access).toBeInstanceOf(ServiceAccessError);
      expect(access.context).toEqual({ service: 'S3', problem: 'auth', endpoint: server.url, code });
      expect(access.message.startsWith(`S3 ${server.url}: ${code}: `)).toBe(true);
      expect(access.message).toMatch(message);
      expect(server.seen.filter((r) => r.method === 'PUT')).toHaveLength(1);
      expectNoSecrets(err);

      const failure = toActivityFailure(err) as ApplicationFailure;
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ type: FAILURE_TYPES.serviceAuthFailed, nonRetryable: true });
      expect(failure.message).toContain(`S3 ${server.url}: ${code}`);
    });
  }

  it('a HEAD answered 403 (no body) is AccessDenied too', async () => {
    const denied = await startHttpServer((_req, res) => {
      res.writeHead(403);
      res.end();
    });
    try {
      const err = await rejection(() => createMinioClient(s3For(denied.url)).statObject('models', 'k'));
      expect(err).toBeInstanceOf(ServiceAccessError);
      expect(err.message).toContain('AccessDenied: access key AKIA… lacks permission for HEAD s3://models/k');
    } finally {
      await denied.close();
    }
  });
});

describe('S3 TLS', () => {
  let tls: TlsFixtures;
  let server: TestServer;
  let plain: TestServer;

  beforeAll(async () => {
    tls = makeTlsFixtures();
    server = await startHttpsServer(s3Like(undefined), { cert: tls.serverCert, key: tls.serverKey });
    plain = await startHttpServer(s3Like(undefined));
  });
  afterAll(async () => {
    await server?.close();
    await plain?.close();
    tls?.cleanup();
  });

  it('trusts AWS_CA_BUNDLE for an https endpoint', async () => {
    const stat = await createMinioClient(s3For(server.url, { caBundlePath: tls.caCert })).statObject('models', 'k');
    expect(stat.size).toBe(3);
  });

  it('an untrusted certificate is a TLS ServiceAccessError naming AWS_CA_BUNDLE; ServiceTlsFailed, never retried', async () => {
    const store = new ContentAddressedStore(minioS3Operations(createMinioClient(s3For(server.url))), {
      bucket: 'models',
      retry,
      sleep: async () => {},
    });
    const before = server.seen.length;
    const err = await rejection(() => store.stat('k'));
    expect(isRetryableStorageError(err)).toBe(false);
    const access = (err instanceof ServiceAccessError ? err : err.cause) as ServiceAccessError;
    expect(access).toBeInstanceOf(ServiceAccessError);
    expect(access.context).toMatchObject({ service: 'S3', problem: 'tls', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(access.message).toMatch(
      new RegExp(
        `^S3 ${server.url}: TLS certificate verification failed \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE: .*\\); set AWS_CA_BUNDLE to the CA`,
      ),
    );
    expect(server.seen.length).toBe(before);
    expect(toActivityFailure(err)).toMatchObject({ type: FAILURE_TYPES.serviceTlsFailed, nonRetryable: true });
  });

  it('a CA bundle that did not sign the certificate is named in the message', async () => {
    const err = await rejection(() =>
      createMinioClient(s3For(server.url, { caBundlePath: tls.strangerCert })).statObject('models', 'k'),
    );
    expect(err).toBeInstanceOf(ServiceAccessError);
    expect(err.message).toContain(`AWS_CA_BUNDLE=${tls.strangerCert} does not verify it`);
  });

  it('https:// to a plain-http port says the server does not speak TLS', async () => {
    const err = await rejection(() =>
      createMinioClient(s3For(plain.url.replace('http:', 'https:'))).statObject('models', 'k'),
    );
    expect(err).toBeInstanceOf(ServiceAccessError);
    expect((err as ServiceAccessError).context.problem).toBe('tls');
    expect(err.message).toContain('the server does not speak TLS');
    expect(err.message).toContain('use http:// in AWS_ENDPOINT_URL_S3');
  });

  it('the liveness probe uses the same TLS settings', async () => {
    expect(await probeS3Endpoint(s3For(server.url, { caBundlePath: tls.caCert }))).toMatchObject({ status: 200 });
    const err = await rejection(() => probeS3Endpoint(s3For(server.url)));
    expect(err).toBeInstanceOf(ServiceAccessError);
    expect(err.message).toContain('set AWS_CA_BUNDLE');
  });

  it('http:// to a TLS-only port (its bare 400 says so) is a TLS ServiceAccessError', async () => {
    const goLike = await startHttpServer((_req, res) => {
      res.writeHead(400);
      res.end('Client sent an HTTP request to an HTTPS server.\n');
    });
    try {
      const err = await rejection(() => createMinioClient(s3For(goLike.url)).statObject('models', 'k'));
      expect(err).toBeInstanceOf(ServiceAccessError);
      expect(err.message).toBe(
        `S3 ${goLike.url}: the server speaks TLS on this port but the endpoint is http://; use https:// in AWS_ENDPOINT_URL_S3`,
      );
    } finally {
      await goLike.close();
    }
  });

  it('a bare 400 from a server that does not ask for TLS stays what it was', async () => {
    const odd = await startHttpServer((_req, res) => {
      res.writeHead(400);
      res.end();
    });
    try {
      const err = await rejection(() => createMinioClient(s3For(odd.url)).statObject('models', 'k'));
      expect(err).not.toBeInstanceOf(ServiceAccessError);
    } finally {
      await odd.close();
    }
  });

  it('the CA bundle is ignored for an http endpoint (nothing to verify)', async () => {
    const stat = await createMinioClient(s3For(plain.url, { caBundlePath: tls.caCert })).statObject('models', 'k');
    expect(stat.size).toBe(3);
  });
});
