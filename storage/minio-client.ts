/**
 * Builds the `minio` client from the resolved S3 settings. The one place that turns an endpoint URL
 * and credentials into a client; everything else in storage/ receives the client ready-made.
 * The client's own retry is off: storage/retry.ts is the single retry policy (the built-in one
 * retries 5xx once and never retries connection resets).
 */
import * as Minio from 'minio';
import type { S3Config } from '../config/environment';

export interface MinioClientOptions {
  /** An `http`-like module; tests pass an instrumented one to count the bytes sent. */
  transport?: Minio.ClientOptions['transport'];
}

export function createMinioClient(s3: S3Config, opts: MinioClientOptions = {}): Minio.Client {
  const url = new URL(s3.endpoint);
  const useSSL = url.protocol === 'https:';
  return new Minio.Client({
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: s3.accessKey,
    secretKey: s3.secretKey,
    region: s3.region,
    pathStyle: true,
    retryOptions: { disableRetry: true },
    ...(opts.transport ? { transport: opts.transport } : {}),
  });
}
