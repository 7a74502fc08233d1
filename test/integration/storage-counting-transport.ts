/**
 * Test helper: an `http`-like transport for the minio client that counts the request-body bytes of
 * every data PUT (PutObject and UploadPart; not copies) and can cut the connection in the middle of
 * a chosen part, to simulate a crash mid-upload. Used by the storage integration tests and the bench.
 */
import * as http from 'node:http';

export interface TransportCounts {
  dataPuts: number;
  dataBytes: number;
  /** Part numbers in the order their PUT started. */
  partNumbers: number[];
}

export interface CountingTransport {
  transport: { request: typeof http.request };
  counts: TransportCounts;
  reset(): void;
  /** Reset the connection half-way through the next PUT of this part number (once). */
  breakPart(partNumber: number): void;
}

function byteLength(chunk: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  if (chunk instanceof Uint8Array) return chunk.length;
  return 0;
}

export function countingTransport(): CountingTransport {
  const counts: TransportCounts = { dataPuts: 0, dataBytes: 0, partNumbers: [] };
  let breakAt: number | undefined;
  const request = ((opts: http.RequestOptions, cb?: (res: http.IncomingMessage) => void) => {
    const req = http.request(opts, cb);
    const headers = (opts.headers ?? {}) as Record<string, unknown>;
    const isCopy = Object.keys(headers).some((h) => h.toLowerCase() === 'x-amz-copy-source');
    if (opts.method !== 'PUT' || isCopy) return req;
    const partMatch = /[?&]partNumber=(\d+)/.exec(opts.path ?? '');
    const partNumber = partMatch ? Number(partMatch[1]) : undefined;
    counts.dataPuts += 1;
    if (partNumber !== undefined) counts.partNumbers.push(partNumber);
    const origEnd = req.end.bind(req) as (...args: unknown[]) => http.ClientRequest;
    req.end = ((...args: unknown[]) => {
      const chunk = typeof args[0] === 'function' ? undefined : args[0];
      const len = byteLength(chunk);
      if (partNumber !== undefined && partNumber === breakAt && len > 0) {
        breakAt = undefined;
        const half = Math.floor(len / 2);
        counts.dataBytes += half;
        req.write((chunk as Buffer).subarray(0, half));
        setTimeout(
          () =>
            req.destroy(
              Object.assign(new Error('socket hang up (test: connection cut mid-part)'), { code: 'ECONNRESET' }),
            ),
          20,
        );
        return req;
      }
      counts.dataBytes += len;
      return origEnd(...args);
    }) as typeof req.end;
    return req;
  }) as typeof http.request;
  return {
    transport: { request },
    counts,
    reset() {
      counts.dataPuts = 0;
      counts.dataBytes = 0;
      counts.partNumbers = [];
    },
    breakPart(n) {
      breakAt = n;
    },
  };
}
