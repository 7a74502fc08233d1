/**
 * Test certificates made with openssl into a temp folder: a CA, a server certificate it signed for
 * 127.0.0.1/localhost, a self-signed "stranger" server certificate, a server certificate for
 * another host name, and a client certificate (with `client.pem` holding certificate and key, the
 * way MLflow's MLFLOW_TRACKING_CLIENT_CERT_PATH takes it). Plus servers to point clients at.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TlsFixtures {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  strangerCert: string;
  strangerKey: string;
  otherHostCert: string;
  otherHostKey: string;
  /** One PEM: client certificate, then its key. */
  clientPem: string;
  cleanup(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function signedBy(dir: string, name: string, subjectAltName: string, ext = 'serverAuth'): void {
  openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${subjectAltName}\nextendedKeyUsage=${ext}\n`);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-out',
    `${name}.crt`,
    '-extfile',
    `${name}.ext`,
  ]);
}

/** A self-signed certificate `<name>.crt` with its key `<name>.key`, valid for two days. */
function selfSigned(dir: string, name: string, subject: string, extra: string[] = []): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    subject,
    ...extra,
  ]);
}

export function makeTlsFixtures(): TlsFixtures {
  const dir = mkdtempSync(join(tmpdir(), 'tls-fixtures-'));
  selfSigned(dir, 'ca', '/CN=test-ca');
  signedBy(dir, 'server', 'IP:127.0.0.1,DNS:localhost');
  signedBy(dir, 'otherhost', 'DNS:not-this-host.example');
  signedBy(dir, 'client', 'DNS:client', 'clientAuth');
  selfSigned(dir, 'stranger', '/CN=stranger', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const clientPem = join(dir, 'client.pem');
  writeFileSync(clientPem, read('client.crt') + read('client.key'));
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    strangerCert: join(dir, 'stranger.crt'),
    strangerKey: join(dir, 'stranger.key'),
    otherHostCert: join(dir, 'otherhost.crt'),
    otherHostKey: join(dir, 'otherhost.key'),
    clientPem,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface TestServer {
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function listen(
  server: http.Server | https.Server,
  scheme: string,
  handlerSeen: SeenRequest[],
): Promise<TestServer> {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    seen: handlerSeen,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections?.();
        server.close(() => ok());
      }),
  };
}

function recording(handler: Handler, seen: SeenRequest[]): Handler {
  return (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => handler(req, res));
  };
}

export function startHttpServer(handler: Handler): Promise<TestServer> {
  const seen: SeenRequest[] = [];
  return listen(http.createServer(recording(handler, seen)), 'http', seen);
}

export function startHttpsServer(
  handler: Handler,
  tls: { cert: string; key: string; requireClientCertFrom?: string },
): Promise<TestServer> {
  const seen: SeenRequest[] = [];
  const options: https.ServerOptions = {
    cert: readFileSync(tls.cert),
    key: readFileSync(tls.key),
    ...(tls.requireClientCertFrom
      ? { ca: readFileSync(tls.requireClientCertFrom), requestCert: true, rejectUnauthorized: true }
      : {}),
  };
  return listen(https.createServer(options, recording(handler, seen)), 'https', seen);
}

export const json =
  (status: number, body: unknown): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };

/** Runs `fn`, expecting it to reject; returns the error. */
export async function rejection(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}
