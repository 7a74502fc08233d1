/**
 * The TLS and credential settings of S3 and MLflow, read for loadConfig (environment.ts). MLflow's
 * variables mean what they mean to MLflow's Python client (mlflow/utils/rest_utils.py,
 * MlflowHostCreds); S3's are the AWS SDKs' own. Secrets (passwords, tokens, secret keys) come from
 * the process environment only: stack.env is a plain file in the state folder, so it may name
 * certificate paths and a user name, never a secret. A configured file that is missing, unreadable
 * or not the PEM it should be fails here, naming its variable, rather than at the first request.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { MlflowConfig, S3Config, ValueSource } from './service-settings';

/** loadConfig's `pick`: the first set key in the environment, then in stack.env, else the fallback. */
export type PickSetting = (keys: readonly string[], fallback: string) => string;

export interface SettingSources {
  pick: PickSetting;
  /** Filled by `pick`; read back to resolve a relative path against the file it came from. */
  sources: Record<string, ValueSource>;
  /** Where stack.env lives: a relative path written there is relative to it. */
  stateDir: string;
}

export function resolveMlflowSecurity(env: NodeJS.ProcessEnv, from: SettingSources): Omit<MlflowConfig, 'trackingUri'> {
  const serverCertPath = pemPath('MLFLOW_TRACKING_SERVER_CERT_PATH', from, 'certificates');
  const clientCertPath = pemPath('MLFLOW_TRACKING_CLIENT_CERT_PATH', from, 'certificate-and-key');
  const insecureTls = booleanSetting('MLFLOW_TRACKING_INSECURE_TLS', from.pick(['MLFLOW_TRACKING_INSECURE_TLS'], ''));
  if (insecureTls && serverCertPath) {
    // MLflow refuses the pair too: trusting a CA file and verifying nothing contradict each other.
    throw new Error(
      `MLFLOW_TRACKING_INSECURE_TLS=true and MLFLOW_TRACKING_SERVER_CERT_PATH=${serverCertPath} are both set: ` +
        'only one of them may be (trust that CA file, or turn verification off)',
    );
  }
  return {
    username: from.pick(['MLFLOW_TRACKING_USERNAME'], '') || undefined,
    password: secret(env, 'MLFLOW_TRACKING_PASSWORD', from.sources),
    token: secret(env, 'MLFLOW_TRACKING_TOKEN', from.sources),
    serverCertPath,
    clientCertPath,
    insecureTls,
  };
}

export function resolveS3Security(
  env: NodeJS.ProcessEnv,
  from: SettingSources,
): Pick<S3Config, 'caBundlePath' | 'sessionToken'> {
  // The keys themselves are read by loadConfig (environment only); doctor is told whether the local
  // stack's default pair is in use.
  from.sources.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID !== undefined ? 'environment' : 'default';
  from.sources.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY !== undefined ? 'environment' : 'default';
  return {
    caBundlePath: pemPath('AWS_CA_BUNDLE', from, 'certificates'),
    sessionToken: secret(env, 'AWS_SESSION_TOKEN', from.sources),
  };
}

/** A secret: the process environment or nothing. Its source is recorded (not its value) for doctor. */
function secret(env: NodeJS.ProcessEnv, name: string, sources: Record<string, ValueSource>): string | undefined {
  const value = env[name] || undefined;
  sources[name] = value ? 'environment' : 'default';
  return value;
}

/** true/false/1/0, any case: the values MLflow's boolean variables accept. */
export function booleanSetting(name: string, raw: string): boolean {
  if (!raw) return false;
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`${name}=${raw}: expected true, false, 1 or 0`);
}

type PemContent = 'certificates' | 'certificate-and-key';

/** The configured PEM file's absolute path, after checking it is a readable file of the right kind. */
function pemPath(name: string, from: SettingSources, content: PemContent): string | undefined {
  const raw = from.pick([name], '');
  if (!raw) return undefined;
  const path = from.sources[name] === 'stack.env' ? resolve(from.stateDir, raw) : resolve(raw);
  const text = readPem(name, raw, path);
  const hasCert = /-----BEGIN (TRUSTED )?CERTIFICATE-----/.test(text);
  const hasKey = /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(text);
  if (!hasCert) throw new Error(`${name}=${raw}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)`);
  if (content === 'certificate-and-key') {
    if (!hasKey)
      throw new Error(
        `${name}=${raw}: no private key in it; expected one PEM file holding the client certificate and its ` +
          'private key (as MLflow and requests take it)',
      );
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text))
      throw new Error(
        `${name}=${raw}: the private key is encrypted; a passphrase cannot be given, use an unencrypted key`,
      );
  }
  return path;
}

function readPem(name: string, raw: string, path: string): string {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new Error(
      `${name}=${raw}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? String(err)})`}`,
    );
  }
  if (!isFile) throw new Error(`${name}=${raw}: not a file (expected a PEM file)`);
  try {
    accessSync(path, constants.R_OK);
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new Error(`${name}=${raw}: cannot be read (${code ?? String(err)})`);
  }
}

/**
 * A service URL, refused when it carries `user:password@`: fetch rejects such URLs, and every
 * message naming the endpoint would print them. The error names the variable, not the value.
 */
export function endpointWithoutCredentials(name: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${name}: not a URL (expected e.g. https://host:port)`);
  }
  if (parsed.username || parsed.password) {
    const creds = name.startsWith('MLFLOW')
      ? 'MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD'
      : 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';
    throw new Error(`${name}: credentials in the URL are not supported; remove them and set ${creds}`);
  }
  return url;
}
