/**
 * After a failed Temporal connection: one TLS handshake of our own to the same endpoint, with the
 * same CA and client certificate, to learn what the SDK's transports do not say (grpc-js reports
 * only "Failed to connect before the deadline"): an untrusted server certificate, a refused client
 * certificate, or TLS where we spoke plain text. Nothing is sent after the handshake.
 */
import { isIP } from 'node:net';
import { connect, type ConnectionOptions } from 'node:tls';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';

/** What the handshake showed, as a cause and the variable(s) to set; undefined when it showed nothing. */
export interface TlsFinding {
  cause: string;
  hint: string;
}

const CLIENT_CERT_VARS = 'TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH';

/** How long a TLS 1.3 server has to send its verdict on our certificate after the handshake. */
const SERVER_VERDICT_MS = 500;

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

function handshake(
  address: string,
  options: ConnectionOptions,
  timeoutMs: number,
): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve) => {
    const socket = connect({ host, port, ALPNProtocols: ['h2'], ...options });
    let settled = false;
    const done = (v: { ok: true } | { ok: false; code: string; message: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done({ ok: false, code: 'ETIMEDOUT', message: 'no TLS answer' }), timeoutMs);
    socket.on('secureConnect', () => setTimeout(() => done({ ok: true }), SERVER_VERDICT_MS));
    socket.on('error', (err: Error & { code?: string }) =>
      done({ ok: false, code: err.code ?? 'ERROR', message: err.message }),
    );
  });
}

export async function probeTemporalTls(
  address: string,
  tls: TLSConfig | boolean | undefined,
  timeoutMs = 3_000,
): Promise<TlsFinding | undefined> {
  if (!tls) {
    // We spoke plain text: does the endpoint speak TLS instead?
    const r = await handshake(address, { rejectUnauthorized: false }, timeoutMs);
    if (r.ok || /alert/i.test(r.message))
      return {
        cause: 'the endpoint speaks TLS and we spoke plain text',
        hint: 'set TEMPORAL_TLS=true (with TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA, and the client certificate variables for mutual TLS)',
      };
    return undefined;
  }
  const config = typeof tls === 'object' ? tls : {};
  const { host } = splitAddress(address);
  const servername = config.serverNameOverride ?? (isIP(host) ? undefined : host);
  const r = await handshake(
    address,
    {
      ...(config.serverRootCACertificate ? { ca: Buffer.from(config.serverRootCACertificate) } : {}),
      ...(config.clientCertPair
        ? { cert: Buffer.from(config.clientCertPair.crt), key: Buffer.from(config.clientCertPair.key) }
        : {}),
      ...(servername ? { servername } : {}),
    },
    timeoutMs,
  );
  if (r.ok) return undefined;
  const code = r.code;
  if (/CERTIFICATE_REQUIRED/.test(code))
    return { cause: 'the server requires a client certificate and we sent none', hint: `set ${CLIENT_CERT_VARS}` };
  if (/UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|DECRYPT_ERROR|ACCESS_DENIED|HANDSHAKE_FAILURE/.test(code))
    return {
      cause: `the server refused our client certificate (${code})`,
      hint: `set ${CLIENT_CERT_VARS} to a certificate issued by a CA the server trusts`,
    };
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME_INVALID/.test(code) && !/ALERT/.test(code))
    return {
      cause: `the server's certificate is not trusted (${code}: ${r.message})`,
      hint: 'set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA that issued it (and TEMPORAL_TLS_SERVER_NAME if it names another host)',
    };
  if (/WRONG_VERSION_NUMBER|ECONNRESET|EPROTO/.test(code) && /wrong version|packet length|EPROTO/i.test(r.message))
    return {
      cause: 'the endpoint does not speak TLS',
      hint: 'check TEMPORAL_ADDRESS, or set TEMPORAL_TLS=false for a plain-text server',
    };
  return undefined;
}
