/**
 * How the MLflow client reaches its server: the Authorization header and the TLS agent, built from
 * the settings loadConfig resolved (config.mlflow has this shape; registry/ may not import config/).
 * Same choices as MLflow's Python client: basic auth when username and password are both set, else
 * a bearer token; the server CA file replaces the system CAs; the client certificate file holds the
 * certificate and its key. Node's global fetch cannot take a CA, so requests go through undici's
 * fetch with an Agent of our own. The credential stays inside `authorization`, which nothing prints.
 */
import { readFileSync } from 'node:fs';
import { Agent, type Dispatcher } from 'undici';

export interface MlflowConnectionSettings {
  trackingUri: string;
  username?: string | undefined;
  password?: string | undefined;
  token?: string | undefined;
  serverCertPath?: string | undefined;
  clientCertPath?: string | undefined;
  insecureTls?: boolean | undefined;
}

export type MlflowAuthKind = { kind: 'basic'; username: string } | { kind: 'bearer' } | { kind: 'none' };

export interface MlflowConnection {
  /** The Authorization header value, or undefined. */
  readonly authorization: string | undefined;
  readonly auth: MlflowAuthKind;
  /** Which credential variables are set (never their values), for a 401's message. */
  readonly credentialsSet: { username: boolean; password: boolean; token: boolean };
  /** undefined: undici's default agent (system CAs, verification on). */
  readonly dispatcher: Dispatcher | undefined;
  readonly serverCertPath: string | undefined;
  readonly insecureTls: boolean;
  /** Every secret this connection holds, so messages built from server answers can be scrubbed of them. */
  readonly secrets: readonly string[];
}

export function mlflowConnection(s: MlflowConnectionSettings): MlflowConnection {
  if (s.insecureTls && s.serverCertPath)
    throw new Error('MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH may not both be set');
  let authorization: string | undefined;
  let auth: MlflowAuthKind = { kind: 'none' };
  const secrets: string[] = [];
  if (s.username && s.password) {
    const encoded = Buffer.from(`${s.username}:${s.password}`, 'utf8').toString('base64');
    authorization = `Basic ${encoded}`;
    auth = { kind: 'basic', username: s.username };
    secrets.push(s.password, encoded);
  } else if (s.token) {
    authorization = `Bearer ${s.token}`;
    auth = { kind: 'bearer' };
  }
  if (s.token) secrets.push(s.token);
  return {
    authorization,
    auth,
    credentialsSet: { username: !!s.username, password: !!s.password, token: !!s.token },
    dispatcher: tlsAgent(s),
    serverCertPath: s.serverCertPath,
    insecureTls: !!s.insecureTls,
    secrets,
  };
}

function tlsAgent(s: MlflowConnectionSettings): Dispatcher | undefined {
  if (!s.serverCertPath && !s.clientCertPath && !s.insecureTls) return undefined;
  const connect: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean } = {};
  if (s.serverCertPath) connect.ca = readFileSync(s.serverCertPath, 'utf8');
  if (s.clientCertPath) Object.assign(connect, splitCertAndKey(readFileSync(s.clientCertPath, 'utf8')));
  if (s.insecureTls) connect.rejectUnauthorized = false;
  return new Agent({ connect });
}

/**
 * The certificate chain and the private key of one PEM file (what `requests` takes as `cert=`).
 * Node wants them apart; the blocks are copied out whole, in order.
 */
export function splitCertAndKey(pem: string): { cert: string; key: string } {
  const blocks = pem.match(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g) ?? [];
  const cert = blocks.filter((b) => /^-----BEGIN (TRUSTED )?CERTIFICATE-----/.test(b));
  const key = blocks.filter((b) => /^-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(b));
  if (cert.length === 0 || key.length !== 1)
    throw new Error(
      'MLFLOW_TRACKING_CLIENT_CERT_PATH: expected one PEM file with the client certificate and exactly one unencrypted private key',
    );
  return { cert: `${cert.join('\n')}\n`, key: `${key[0]}\n` };
}
