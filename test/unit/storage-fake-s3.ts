/**
 * Test helper: an in-memory S3Operations with MinIO's ETag rules (md5 per part, md5-of-md5s-N for
 * multipart objects), NoSuchUpload for unknown upload ids, and a hook to fail chosen calls.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { IncompleteUpload, ObjectStat, S3Operations, ServerPart } from '../../storage/s3-operations';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const s3Error = (code: string) => Object.assign(new Error(`${code} (fake)`), { code });

export class FakeS3 implements S3Operations {
  objects = new Map<string, { body: Buffer; etag: string; metadata: Record<string, string> }>();
  uploads = new Map<
    string,
    { key: string; metadata: Record<string, string>; parts: Map<number, Buffer>; initiated: Date }
  >();
  calls: string[] = [];
  partBytes = 0;
  private nextId = 1;
  /** Return an error to throw instead of running the call (by call name), or undefined. */
  failWith: (call: string, arg?: number) => Error | undefined = () => undefined;

  private enter(call: string, arg?: number): void {
    this.calls.push(arg === undefined ? call : `${call}:${arg}`);
    const err = this.failWith(call, arg);
    if (err) throw err;
  }

  async stat(bucket: string, key: string): Promise<ObjectStat | undefined> {
    this.enter('stat');
    const o = this.objects.get(`${bucket}/${key}`);
    return o ? { size: o.body.length, etag: o.etag, metadata: { ...o.metadata } } : undefined;
  }
  async put(bucket: string, key: string, body: Buffer, metadata: Record<string, string>) {
    this.enter('put');
    const etag = md5(body);
    this.objects.set(`${bucket}/${key}`, { body: Buffer.from(body), etag, metadata: lower(metadata) });
    return { etag };
  }
  async get(bucket: string, key: string): Promise<Readable> {
    this.enter('get');
    const o = this.objects.get(`${bucket}/${key}`);
    if (!o) throw s3Error('NoSuchKey');
    return Readable.from([o.body]);
  }
  async initiateMultipart(_bucket: string, key: string, metadata: Record<string, string>) {
    this.enter('initiate');
    const id = `upload-${this.nextId++}`;
    this.uploads.set(id, { key, metadata: lower(metadata), parts: new Map(), initiated: new Date() });
    return id;
  }
  async uploadPart(_bucket: string, key: string, uploadId: string, n: number, body: Buffer) {
    this.enter('uploadPart', n);
    const u = this.uploads.get(uploadId);
    if (!u || u.key !== key) throw s3Error('NoSuchUpload');
    u.parts.set(n, Buffer.from(body));
    this.partBytes += body.length;
    return { etag: md5(body) };
  }
  async listParts(_bucket: string, key: string, uploadId: string): Promise<ServerPart[]> {
    this.enter('listParts');
    const u = this.uploads.get(uploadId);
    if (!u || u.key !== key) throw s3Error('NoSuchUpload');
    return [...u.parts.entries()].map(([number, b]) => ({ number, etag: md5(b), size: b.length }));
  }
  async completeMultipart(bucket: string, key: string, uploadId: string, parts: { number: number; etag: string }[]) {
    this.enter('complete');
    const u = this.uploads.get(uploadId);
    if (!u || u.key !== key) throw s3Error('NoSuchUpload');
    const bodies = parts.map((p) => {
      const b = u.parts.get(p.number);
      if (!b || md5(b) !== p.etag) throw s3Error('InvalidPart');
      return b;
    });
    const h = createHash('md5');
    for (const b of bodies) h.update(Buffer.from(md5(b), 'hex'));
    const etag = `${h.digest('hex')}-${parts.length}`;
    this.objects.set(`${bucket}/${key}`, { body: Buffer.concat(bodies), etag, metadata: u.metadata });
    this.uploads.delete(uploadId);
    return { etag };
  }
  async abortMultipart(_bucket: string, _key: string, uploadId: string) {
    this.enter('abort');
    if (!this.uploads.delete(uploadId)) throw s3Error('NoSuchUpload');
  }
  async listIncompleteUploads(_bucket: string, key: string): Promise<IncompleteUpload[]> {
    this.enter('listUploads');
    return [...this.uploads.entries()]
      .filter(([, u]) => u.key === key)
      .map(([uploadId, u]) => ({ key, uploadId, initiated: u.initiated }));
  }
  async copy(src: { bucket: string; key: string; matchEtag?: string }, dst: { bucket: string; key: string }) {
    this.enter('copy');
    const o = this.objects.get(`${src.bucket}/${src.key}`);
    if (!o) throw s3Error('NoSuchKey');
    if (src.matchEtag && src.matchEtag !== o.etag) throw s3Error('PreconditionFailed');
    this.objects.set(`${dst.bucket}/${dst.key}`, { ...o });
    return { etag: o.etag };
  }
}

function lower(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata))
    if (k.toLowerCase() !== 'content-type') out[k.toLowerCase().replace(/^x-amz-meta-/, '')] = v;
  return out;
}
