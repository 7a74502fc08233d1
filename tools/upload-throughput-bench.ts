/**
 * By-hand benchmark (not run in CI): upload throughput of a large file (default 786 MB) on the
 * configured MinIO with our multipart uploader at a few part-size/concurrency settings, against a
 * plain single-stream PUT of the same file (a presigned URL, no hashing on our side), in one run;
 * plus the bytes re-sent after an upload interrupted by a connection reset mid-part.
 *
 *   npm run build:tools && node .state/tools-build/tools/upload-throughput-bench.js [bytes]
 *
 * Writes only under `bench/upload-throughput/` in the models bucket and removes what it wrote.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/environment';
import { countingTransport } from '../test/integration/storage-counting-transport';
import { createMinioClient } from '../storage/minio-client';
import { sha256File } from '../hashing/file-sha256';
import { ContentAddressedStore } from '../storage/object-store';
import { minioS3Operations } from '../storage/s3-operations';
import type { UploadCheckpoint } from '../storage/upload-checkpoint';

const MiB = 1024 * 1024;

async function writeRandomFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  for (let left = size; left > 0; left -= 4 * MiB) {
    if (!out.write(randomBytes(Math.min(4 * MiB, left)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

async function plainPut(url: string, path: string, size: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: { 'Content-Length': size } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    createReadStream(path, { highWaterMark: MiB }).pipe(req);
  });
}

async function main(): Promise<void> {
  const size = Number(process.argv[2] ?? 786_000_000);
  const config = loadConfig();
  const counter = countingTransport();
  const client = createMinioClient(config.s3, { transport: counter.transport });
  const ops = minioS3Operations(client);
  const bucket = config.s3.modelsBucket;
  const prefix = `bench/upload-throughput/${randomUUID()}/`;
  const path = join(tmpdir(), `upload-bench-${size}.bin`);
  await writeRandomFile(path, size);
  const { sha256 } = await sha256File(path);
  const mbps = (ms: number) => (size / 1e6 / (ms / 1000)).toFixed(0);
  const rows: string[] = [];
  try {
    const settings = [
      { partSize: 8 * MiB, concurrency: 2 },
      { partSize: 16 * MiB, concurrency: 4 },
      { partSize: 64 * MiB, concurrency: 4 },
    ];
    const t0 = Date.now();
    await plainPut(await client.presignedPutObject(bucket, `${prefix}plain`, 3600), path, size);
    const plainMs = Date.now() - t0;
    rows.push(`plain single-stream PUT: ${plainMs} ms, ${mbps(plainMs)} MB/s`);
    for (const s of settings) {
      const store = new ContentAddressedStore(ops, { bucket, ...s });
      const t = Date.now();
      await store.uploadFile(path, `${prefix}mp-${s.partSize / MiB}-${s.concurrency}`, { sha256 });
      const ms = Date.now() - t;
      rows.push(
        `multipart ${s.partSize / MiB} MiB x${s.concurrency}: ${ms} ms, ${mbps(ms)} MB/s, ratio vs plain ${(plainMs / ms).toFixed(2)}`,
      );
    }
    // Interrupted: the connection is cut half-way through part 20; no in-process retry; then resume.
    const store = new ContentAddressedStore(ops, {
      bucket,
      partSize: 16 * MiB,
      concurrency: 4,
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const key = `${prefix}interrupted`;
    let last: UploadCheckpoint | undefined;
    counter.reset();
    counter.breakPart(20);
    await store
      .uploadFile(path, key, {
        sha256,
        onProgress: (cp) => {
          last = cp;
        },
      })
      .catch(() => undefined);
    const firstBytes = counter.counts.dataBytes;
    counter.reset();
    const resumed = await new ContentAddressedStore(ops, { bucket, partSize: 16 * MiB, concurrency: 4 }).uploadFile(
      path,
      key,
      { sha256, resumeFrom: last },
    );
    const total = firstBytes + counter.counts.dataBytes;
    rows.push(
      `interrupted at part 20 (16 MiB x4): attempt 1 sent ${firstBytes} B (${last?.parts.length} parts finished), resume sent ${counter.counts.dataBytes} B, reused ${resumed.bytesReused} B; re-sent ${total - size} B (${((total - size) / MiB).toFixed(1)} MiB) of ${size}`,
    );
  } finally {
    rmSync(path, { force: true });
    const keys: string[] = [];
    for await (const o of client.listObjects(bucket, prefix, true)) if (o.name) keys.push(o.name);
    if (keys.length) await client.removeObjects(bucket, keys);
  }
  process.stdout.write(
    `upload throughput, ${size} bytes, ${config.s3.endpoint}\n${rows.map((r) => `  ${r}`).join('\n')}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
