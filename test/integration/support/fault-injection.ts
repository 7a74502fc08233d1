/**
 * Tools for the fault-injection suite: a throw-away stack (scripts/stack.sh on its own ports and
 * state folder) whose services can be stopped and started again, worker hosts as separate
 * `node bin/onnx-export.js worker` processes (so SIGKILL is real), a TCP proxy that slows and counts
 * the bytes between workers and MinIO, and an HTTP proxy that holds a request until the test says go
 * or lets the server answer a request and keeps that answer from the client (a lost response).
 * Everything binds to 127.0.0.1; every process started here is stopped by `stopAll`/`down`.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findProjectRoot } from '../../../config/environment';

const run = promisify(execFile);
const root = findProjectRoot();

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `everyMs` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    await sleep(everyMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
  );
}

function alive(pid: number): boolean {
  const cmdline = `/proc/${pid}/cmdline`;
  return existsSync(cmdline) && readFileSync(cmdline).length > 0;
}

export type StackService = 'temporal' | 'minio' | 'mlflow';

export interface ThrowAwayStack {
  stateDir: string;
  ports: Record<string, string>;
  /** Endpoints as the worker and the client see them (before any proxy). */
  endpoints: { temporal: string; temporalUi: string; s3: string; mlflow: string };
  up(): Promise<void>;
  /** Stops everything `up` started, then removes the state folder. */
  down(): Promise<void>;
  /** Stops one service by its pid file's process group (SIGTERM, then SIGKILL after 10 s). */
  stop(service: StackService): Promise<void>;
  pidOf(service: StackService): number | undefined;
}

/**
 * Ports free on 127.0.0.1 right now, one per name (the OS picks them; a child process asks, so this
 * can run synchronously at module load). Another process could take one before the stack binds it:
 * then `stack.sh up` stops with a message naming the port.
 */
/** The ports scripts/stack.sh binds for a plain stack (their variable names). */
export const STACK_PORTS = [
  'TEMPORAL_PORT',
  'TEMPORAL_UI_PORT',
  'TEMPORAL_HTTP_PORT',
  'TEMPORAL_METRICS_PORT',
  'MINIO_PORT',
  'MINIO_CONSOLE_PORT',
  'MLFLOW_PORT',
] as const;

export function freePorts(names: readonly string[]): Record<string, string> {
  const script = `
    const net = require('node:net');
    const servers = [];
    let pending = ${names.length};
    for (let i = 0; i < ${names.length}; i++) {
      const s = net.createServer();
      servers.push(s);
      s.listen(0, '127.0.0.1', () => {
        if (--pending === 0) {
          process.stdout.write(servers.map((x) => x.address().port).join(' '));
          servers.forEach((x) => x.close());
        }
      });
    }`;
  const ports = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim().split(' ');
  return Object.fromEntries(names.map((n, i) => [n, ports[i] as string]));
}

/** `stackEnv`: more settings for scripts/stack.sh itself (e.g. STACK_SECURED, the MinIO credentials). */
export function throwAwayStack(ports: Record<string, string>, stackEnv: Record<string, string> = {}): ThrowAwayStack {
  const stateDir = mkdtempSync(join(tmpdir(), 'onnx-export-faults-'));
  const env = { ...process.env, ...ports, ...stackEnv, ONNX_EXPORT_STATE_DIR: stateDir };
  const stackScript = join(root, 'scripts', 'stack.sh');
  const pidOf = (service: StackService): number | undefined => {
    const f = join(stateDir, 'pids', `${service}.pid`);
    return existsSync(f) ? Number(readFileSync(f, 'utf8').trim()) : undefined;
  };
  return {
    stateDir,
    ports,
    endpoints: {
      temporal: `127.0.0.1:${ports.TEMPORAL_PORT}`,
      temporalUi: `http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`,
      s3: `http://127.0.0.1:${ports.MINIO_PORT}`,
      mlflow: `http://127.0.0.1:${ports.MLFLOW_PORT}`,
    },
    async up() {
      await run('bash', [stackScript, 'up'], { env, timeout: 240_000 });
    },
    async down() {
      try {
        await run('bash', [stackScript, 'down'], { env, timeout: 120_000 });
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
    pidOf,
    async stop(service) {
      const pid = pidOf(service);
      if (!pid || !alive(pid)) throw new Error(`${service} is not running (pid file ${pid ?? 'missing'})`);
      const signal = (sig: NodeJS.Signals) => {
        try {
          process.kill(-pid, sig);
        } catch {
          /* already gone */
        }
      };
      signal('SIGTERM');
      const deadline = Date.now() + 10_000;
      while (alive(pid) && Date.now() < deadline) await sleep(100);
      if (alive(pid)) signal('SIGKILL');
      await waitFor(`${service} (pid ${pid}) to exit`, async () => (alive(pid) ? undefined : true), 10_000, 100);
    },
  };
}

/** A worker host in its own process (and process group). */
export interface WorkerProcess {
  name: string;
  pid: number;
  workDir: string;
  /** Everything it printed, for failure messages. */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
}

const workers = new Set<WorkerProcess>();

export async function startWorkerProcess(
  name: string,
  env: NodeJS.ProcessEnv,
  readyTimeoutMs = 120_000,
): Promise<WorkerProcess> {
  const workDir = mkdtempSync(join(tmpdir(), `onnx-export-${name}-`));
  const child: ChildProcess = spawn(process.execPath, [join(root, 'bin', 'onnx-export.js'), 'worker'], {
    cwd: root,
    env: { ...env, ONNX_EXPORT_WORK_DIR: workDir },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  child.stderr?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`worker ${name} did not start`);
  const w: WorkerProcess = {
    name,
    pid,
    workDir,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-pid, signal);
        } catch {
          /* gone */
        }
      }
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await Promise.race([exited, sleep(5_000)]);
      }
      workers.delete(w);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
  workers.add(w);
  const ready = await Promise.race([
    waitFor(
      `worker ${name} to poll`,
      async () => (out.includes('worker polling') ? true : undefined),
      readyTimeoutMs,
      100,
    ),
    exited.then((code) => {
      throw new Error(`worker ${name} exited (${code}) before polling:\n${out}`);
    }),
  ]);
  if (!ready) throw new Error(`worker ${name} not ready`);
  return w;
}

/** Stops every worker process still running (afterAll). */
export async function stopAllWorkers(): Promise<void> {
  await Promise.all([...workers].map((w) => w.kill('SIGTERM')));
}

/**
 * A TCP proxy that counts the bytes in each direction and, while `rates` are set, paces them to
 * that many bytes per second (shared by all connections), to make a local upload slow enough to
 * interrupt in the middle. A refused upstream closes the client's connection, as a stopped server would.
 */
export interface ThrottledProxy {
  url: string;
  bytesUp: number;
  bytesDown: number;
  rates: { up: number | undefined; down: number | undefined };
  close(): Promise<void>;
}

export async function startThrottledProxy(upstream: string): Promise<ThrottledProxy> {
  const target = new URL(upstream);
  const sockets = new Set<Socket>();
  const nextFree = { up: 0, down: 0 };
  const proxy: ThrottledProxy = {
    url: '',
    bytesUp: 0,
    bytesDown: 0,
    rates: { up: undefined, down: undefined },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const pipe = (from: Socket, to: Socket, dir: 'up' | 'down') => {
    from.on('data', (chunk: Buffer) => {
      if (dir === 'up') proxy.bytesUp += chunk.length;
      else proxy.bytesDown += chunk.length;
      const rate = proxy.rates[dir];
      if (!rate) {
        to.write(chunk);
        return;
      }
      const now = Date.now();
      const start = Math.max(now, nextFree[dir]);
      nextFree[dir] = start + (chunk.length / rate) * 1000;
      from.pause();
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
        from.resume();
      }, nextFree[dir] - now);
    });
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const up = connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(up);
    client.on('close', () => sockets.delete(client));
    up.on('close', () => sockets.delete(up));
    pipe(client, up, 'up');
    pipe(up, client, 'down');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/**
 * An HTTP proxy in front of MLflow: forwards everything, but when `holdNext` is armed, the next
 * request is held until `release()` (the test stops the server in between); when `loseAnswerOf` is
 * armed, the next request to that path reaches the server, and its answer is swallowed and the
 * client's connection kept open until `dropLost()` cuts it.
 */
export interface GateProxy {
  url: string;
  seen: string[];
  /** Resolves with the held request's path once one arrives. */
  holdNext(): Promise<string>;
  release(): void;
  /**
   * Arms a lost answer: the next request to `path` (no query) is forwarded and the server answers it
   * (so the write is applied), but the answer is kept from the client, whose request stays open
   * until `dropLost()` destroys its connection. Resolves with the server's answer once it arrived.
   */
  loseAnswerOf(path: string): Promise<LostAnswer>;
  /** Destroys the client connection of the request whose answer was lost (without any reply). */
  dropLost(): void;
  close(): Promise<void>;
}

/** The answer the server gave to a request whose client never got it. */
export interface LostAnswer {
  path: string;
  status: number;
  body: string;
}

export async function startGateProxy(upstream: string): Promise<GateProxy> {
  const target = new URL(upstream);
  const seen: string[] = [];
  let armed: ((path: string) => void) | undefined;
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let lose: { path: string; resolve: (answer: LostAnswer) => void } | undefined;
  let lostSocket: Socket | undefined;
  let dropRequested = false;
  const server = http.createServer((req, res) => {
    const path = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    seen.push(path);
    if (lose && lose.path === (req.url ?? '').split('?')[0]) {
      const { resolve } = lose;
      lose = undefined;
      lostSocket = req.socket;
      const up = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (upRes) => {
          const chunks: Buffer[] = [];
          upRes.on('data', (c: Buffer) => chunks.push(c));
          upRes.on('end', () => {
            // The server has answered (the write is applied); the client never sees it.
            resolve({ path, status: upRes.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
            if (dropRequested) req.socket.destroy();
          });
        },
      );
      up.on('error', (err) => {
        resolve({ path, status: 0, body: String(err) });
        req.socket.destroy();
      });
      req.pipe(up);
      return;
    }
    const forward = () => {
      const up = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => req.socket.destroy());
      req.pipe(up);
    };
    if (armed) {
      const notify = armed;
      armed = undefined;
      req.pause();
      void gate?.then(() => {
        req.resume();
        forward();
      });
      notify(path);
      return;
    }
    forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    holdNext() {
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      return new Promise<string>((resolve) => {
        armed = resolve;
      });
    },
    release() {
      open?.();
    },
    loseAnswerOf(path) {
      dropRequested = false;
      lostSocket = undefined;
      return new Promise<LostAnswer>((resolve) => {
        lose = { path, resolve };
      });
    },
    dropLost() {
      dropRequested = true;
      lostSocket?.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        open?.();
        lostSocket?.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
