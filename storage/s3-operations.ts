/**
 * The handful of S3 calls storage/ makes, behind one interface: the minio-backed implementation
 * here, an in-memory fake in the unit tests. It uses only the minio client's low-level multipart
 * calls (its high-level resume is broken in 8.0.7) and adds no retries or policy of its own.
 */
import type { Readable } from 'node:stream';
import * as Minio from 'minio';

export interface ObjectStat {
  size: number;
  etag: string;
  /** User metadata, keys lower-case without the `x-amz-meta-` prefix. */
  metadata: Record<string, string>;
}

export interface ServerPart {
  number: number;
  etag: string;
  size: number;
}

export interface IncompleteUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface S3Operations {
  /** undefined when the object does not exist. */
  stat(bucket: string, key: string): Promise<ObjectStat | undefined>;
  put(bucket: string, key: string, body: Buffer, metadata: Record<string, string>): Promise<{ etag: string }>;
  get(bucket: string, key: string): Promise<Readable>;
  initiateMultipart(bucket: string, key: string, metadata: Record<string, string>): Promise<string>;
  /** `sha256` (hex of `body`), when given, signs the request without hashing the part again. */
  uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Buffer,
    sha256?: string,
  ): Promise<{ etag: string }>;
  /** Rejects with code `NoSuchUpload` when the upload id is unknown (completed, aborted, expired). */
  listParts(bucket: string, key: string, uploadId: string): Promise<ServerPart[]>;
  completeMultipart(
    bucket: string,
    key: string,
    uploadId: string,
    parts: { number: number; etag: string }[],
  ): Promise<{ etag: string }>;
  abortMultipart(bucket: string, key: string, uploadId: string): Promise<void>;
  listIncompleteUploads(bucket: string, key: string): Promise<IncompleteUpload[]>;
  /** Server-side copy preserving the source's metadata; `matchEtag` guards against a concurrent overwrite. */
  copy(
    src: { bucket: string; key: string; matchEtag?: string },
    dst: { bucket: string; key: string },
  ): Promise<{ etag: string }>;
}

/** User metadata keys as the `x-amz-meta-` headers S3 expects. */
function metaHeaders(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata))
    out[k.toLowerCase().startsWith('x-amz-meta-') || k.toLowerCase() === 'content-type' ? k : `x-amz-meta-${k}`] = v;
  return out;
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"+|"+$/g, '');
}

type ListPartsCapable = {
  listParts(bucket: string, key: string, uploadId: string): Promise<{ part: number; etag: string; size: number }[]>;
};

export function minioS3Operations(client: Minio.Client): S3Operations {
  return {
    async stat(bucket, key) {
      try {
        const s = await client.statObject(bucket, key);
        const metadata: Record<string, string> = {};
        for (const [k, v] of Object.entries(s.metaData ?? {})) metadata[k.toLowerCase()] = String(v);
        return { size: s.size, etag: stripQuotes(s.etag), metadata };
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'NotFound' || code === 'NoSuchKey') return undefined;
        throw err;
      }
    },
    async put(bucket, key, body, metadata) {
      const res = await client.putObject(bucket, key, body, body.length, metaHeaders(metadata));
      return { etag: stripQuotes(res.etag) };
    },
    get: (bucket, key) => client.getObject(bucket, key),
    initiateMultipart: (bucket, key, metadata) => client.initiateNewMultipartUpload(bucket, key, metaHeaders(metadata)),
    async uploadPart(bucket, key, uploadId, partNumber, body, sha256) {
      if (!sha256) {
        const res = await client.uploadPart(
          { bucketName: bucket, objectName: key, uploadID: uploadId, partNumber, headers: {} },
          body,
        );
        return { etag: stripQuotes(res.etag) };
      }
      // uploadPart() hashes the payload again to sign it; the caller already has the hash.
      const res = await client.makeRequestStreamAsync(
        {
          method: 'PUT',
          bucketName: bucket,
          objectName: key,
          query: `uploadId=${encodeURIComponent(uploadId)}&partNumber=${partNumber}`,
          headers: { 'content-length': String(body.length) },
        },
        body,
        client.enableSHA256 ? sha256 : '',
        [200],
        '',
      );
      res.resume();
      const etag = res.headers.etag;
      if (!etag)
        throw Object.assign(new Error(`UploadPart ${partNumber}: no ETag in the answer`), { code: 'MissingETag' });
      return { etag: stripQuotes(etag) };
    },
    async listParts(bucket, key, uploadId) {
      // listParts is `protected` in the typings but is the documented S3 ListParts call.
      const parts = await (client as unknown as ListPartsCapable).listParts(bucket, key, uploadId);
      return parts.map((p) => ({ number: p.part, etag: stripQuotes(p.etag), size: p.size }));
    },
    async completeMultipart(bucket, key, uploadId, parts) {
      const res = await client.completeMultipartUpload(
        bucket,
        key,
        uploadId,
        parts.map((p) => ({ part: p.number, etag: p.etag })),
      );
      return { etag: stripQuotes(res.etag) };
    },
    abortMultipart: (bucket, key, uploadId) => client.abortMultipartUpload(bucket, key, uploadId),
    async listIncompleteUploads(bucket, key) {
      // The query form, paginated by hand: the stream form also lists every upload's parts.
      const out: IncompleteUpload[] = [];
      let keyMarker = '';
      let uploadIdMarker = '';
      for (;;) {
        const page = await client.listIncompleteUploadsQuery(bucket, key, keyMarker, uploadIdMarker, '');
        for (const u of page.uploads as { key: string; uploadId: string; initiated?: Date }[]) {
          if (u.key === key) out.push({ key: u.key, uploadId: u.uploadId, initiated: u.initiated ?? new Date(0) });
        }
        if (!page.isTruncated) return out;
        keyMarker = page.nextKeyMarker;
        uploadIdMarker = page.nextUploadIdMarker;
      }
    },
    async copy(src, dst) {
      const source = new Minio.CopySourceOptions({
        Bucket: src.bucket,
        Object: src.key,
        ...(src.matchEtag ? { MatchETag: src.matchEtag } : {}),
      });
      const dest = new Minio.CopyDestinationOptions({ Bucket: dst.bucket, Object: dst.key, MetadataDirective: 'COPY' });
      const res = await client.copyObject(source, dest);
      const etag = (res as { Etag?: string; etag?: string }).Etag ?? (res as { etag?: string }).etag ?? '';
      return { etag: stripQuotes(etag) };
    },
  };
}
