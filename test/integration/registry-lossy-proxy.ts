/**
 * Test helper: an HTTP proxy in front of MLflow that forwards every request, and for the chosen
 * endpoint lets the upstream answer arrive (so the write happens) and then destroys the client's
 * socket instead of replying: a create whose response is lost.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LossyProxy {
  url: string;
  /** Requests seen per path (without query). */
  seen: Map<string, number>;
  /** Lose the answer of the next `count` requests to `path`. */
  loseAnswers(path: string, count: number): void;
  close(): Promise<void>;
}

export async function startLossyProxy(upstream: string): Promise<LossyProxy> {
  const target = new URL(upstream);
  const seen = new Map<string, number>();
  const toLose = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    seen.set(path, (seen.get(path) ?? 0) + 1);
    const lose = (toLose.get(path) ?? 0) > 0;
    if (lose) toLose.set(path, (toLose.get(path) ?? 0) - 1);
    const up = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
      },
      (upRes) => {
        if (lose) {
          upRes.resume();
          upRes.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => req.socket.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    loseAnswers(path, count) {
      toLose.set(path, count);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
