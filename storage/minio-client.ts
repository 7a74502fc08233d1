/**
 * Builds the `minio` client from the resolved S3 settings. The one place that turns an endpoint URL
 * and credentials into a client; everything else in storage/ receives the client ready-made.
 * The client's own retry is off: storage/retry.ts is the single retry policy (the built-in one
 * retries 5xx once and never retries connection resets).
 *
 * TLS: an https endpoint trusts AWS_CA_BUNDLE's CAs when it is set (an https.Agent of our own),
 * else Node's. Every request goes through `makeRequestStreamAsync`, so that is where refused
 * credentials and failed TLS become ServiceAccessErrors (s3-access-errors.ts) whatever the caller
 * (storage/, workspace/, an activity reading an object directly).
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as Minio from 'minio';
import type { S3Config } from '../config/environment';
import { s3AccessError, s3PlainHttpToTlsError } from './s3-access-errors';

export interface MinioClientOptions {
  /** An `http`-like module; tests pass an instrumented one to count the bytes sent. */
  transport?: Minio.ClientOptions['transport'];
}

type RequestStreamArgs = Parameters<Minio.Client['makeRequestStreamAsync']>;

/** The minio client, with access failures classified on the way out. */
class ClassifyingMinioClient extends Minio.Client {
  constructor(
    options: Minio.ClientOptions,
    private readonly s3: S3Config,
  ) {
    super(options);
  }

  override async makeRequestStreamAsync(
    ...args: RequestStreamArgs
  ): ReturnType<Minio.Client['makeRequestStreamAsync']> {
    try {
      return await super.makeRequestStreamAsync(...args);
    } catch (err) {
      const [options] = args;
      const req = { method: options.method, bucket: options.bucketName, key: options.objectName };
      const access = s3AccessError(err, this.s3, req);
      if (access) throw access;
      // A TLS-only port answers plain http with a bare 400 that minio turns into an error with no
      // code and no message; one more request tells that apart from anything else.
      if (isBlankS3Error(err) && new URL(this.s3.endpoint).protocol === 'http:' && (await speaksOnlyTls(this.s3)))
        throw s3PlainHttpToTlsError(this.s3);
      throw err;
    }
  }
}

export function createMinioClient(s3: S3Config, opts: MinioClientOptions = {}): Minio.Client {
  const url = new URL(s3.endpoint);
  const useSSL = url.protocol === 'https:';
  return new ClassifyingMinioClient(
    {
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : useSSL ? 443 : 80,
      useSSL,
      accessKey: s3.accessKey,
      secretKey: s3.secretKey,
      ...(s3.sessionToken ? { sessionToken: s3.sessionToken } : {}),
      region: s3.region,
      pathStyle: true,
      retryOptions: { disableRetry: true },
      ...(useSSL && s3.caBundlePath ? { transportAgent: caAgent(s3.caBundlePath) } : {}),
      ...(opts.transport ? { transport: opts.transport } : {}),
    },
    s3,
  );
}

/** keepAlive as minio's default agent has it; `ca` replaces Node's CAs, as AWS_CA_BUNDLE does for the AWS CLI. */
function caAgent(path: string): https.Agent {
  return new https.Agent({ keepAlive: true, ca: readFileSync(path, 'utf8') });
}

/**
 * One unsigned GET of `path` on the endpoint with the same TLS settings as the client (doctor's
 * liveness probe, `/minio/health/live`): the status and the Server header. A TLS failure is the
 * same ServiceAccessError the client raises; other errors are Node's.
 */
export function probeS3Endpoint(
  s3: S3Config,
  path = '/minio/health/live',
  timeoutMs = 5_000,
): Promise<{ status: number; server: string | undefined }> {
  const url = new URL(path, s3.endpoint);
  const secure = url.protocol === 'https:';
  const agent = secure && s3.caBundlePath ? caAgent(s3.caBundlePath) : undefined;
  return new Promise<{ status: number; server: string | undefined }>((resolveProbe, reject) => {
    const req = (secure ? https : http).get(url, { timeout: timeoutMs, ...(agent ? { agent } : {}) }, (res) => {
      res.resume();
      const server = res.headers.server;
      resolveProbe({ status: res.statusCode ?? 0, server: typeof server === 'string' ? server : undefined });
    });
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (err) => reject(s3AccessError(err, s3, { method: 'GET' }) ?? err));
  }).finally(() => agent?.destroy());
}

function isBlankS3Error(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  return e?.name === 'S3Error' && !e.code && !e.message;
}

/** True when the endpoint's answer to a plain GET / says it wants TLS (Go's and nginx's words). */
function speaksOnlyTls(s3: S3Config): Promise<boolean> {
  return new Promise((resolveCheck) => {
    const req = http.get(new URL('/', s3.endpoint), { timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 1024) body += chunk;
      });
      res.on('end', () =>
        resolveCheck(/HTTP request to an HTTPS server|plain HTTP request was sent to HTTPS port/i.test(body)),
      );
      res.on('error', () => resolveCheck(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveCheck(false));
  });
}
