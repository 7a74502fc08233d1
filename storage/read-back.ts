/**
 * Writes a small object and reads it back: the stack smoke check's proof that a worker's S3
 * endpoint, bucket and credentials work end to end. Bytes that come back different are a
 * ReadBackMismatchError (final: the store returned what it was not given); refused credentials and
 * failed TLS are the client's ServiceAccessErrors.
 *
 * Must not: be used for artifacts (object-store.ts stores those content-addressed, resumably).
 */
import { createHash } from 'node:crypto';
import type { Client as MinioClient } from 'minio';
import { SHA256_METADATA_KEY } from './object-store';
import { s3Uri } from './object-keys';
import { ReadBackMismatchError } from './storage-error';

export interface ReadBackObject {
  uri: string;
  bytes: number;
  sha256: string;
}

/** Puts `body` at `bucket`/`key` (its sha256 in the object's metadata), reads it back and compares. */
export async function writeAndReadBack(
  minio: MinioClient,
  bucket: string,
  key: string,
  body: Buffer,
): Promise<ReadBackObject> {
  const sha256 = createHash('sha256').update(body).digest('hex');
  await minio.putObject(bucket, key, body, body.length, { [`x-amz-meta-${SHA256_METADATA_KEY}`]: sha256 });
  const stream = await minio.getObject(bucket, key);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const readBack = Buffer.concat(chunks);
  const readSha = createHash('sha256').update(readBack).digest('hex');
  if (readSha !== sha256) throw new ReadBackMismatchError({ bucket, key, wrote: sha256, read: readSha });
  return { uri: s3Uri(bucket, key), bytes: readBack.length, sha256 };
}
