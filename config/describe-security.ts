/**
 * How S3 and MLflow will be reached, in words `doctor` can print: TLS on or off and what it trusts,
 * and which kind of credential is sent. Pure, and safe to print by construction: it names users,
 * files and the first characters of an access key id (not a secret), never a password, token,
 * session token or secret key.
 */
import type { MlflowConfig, S3Config } from './service-settings';

export interface ServiceSecurity {
  /** The endpoint, without any `user:password@` in it. */
  endpoint: string;
  /** `off` | `on (system CAs)` | `on (CA file <path>)` | `on (verification OFF)` */
  tls: string;
  /** `none` | `basic (user <name>)` | `bearer token` | `access key <first 4>…` (+ `, session token`) */
  auth: string;
  /** MLflow only: `client cert <path>` or `none`. */
  clientCert?: string;
}

export interface SecurityDescription {
  s3: ServiceSecurity;
  mlflow: ServiceSecurity;
}

export function describeSecurity(config: { s3: S3Config; mlflow: MlflowConfig }): SecurityDescription {
  return { s3: describeS3(config.s3), mlflow: describeMlflow(config.mlflow) };
}

function describeS3(s3: S3Config): ServiceSecurity {
  const auth = `access key ${keyIdPrefix(s3.accessKey)}${s3.sessionToken ? ', session token' : ''}`;
  return { endpoint: withoutUserinfo(s3.endpoint), tls: tlsWords(s3.endpoint, s3.caBundlePath, false), auth };
}

function describeMlflow(m: MlflowConfig): ServiceSecurity {
  // The order MLflow's client uses: basic when both halves are set, else the bearer token.
  let auth: string;
  if (m.username && m.password) auth = `basic (user ${m.username})`;
  else if (m.token) auth = 'bearer token';
  else if (m.username) auth = `none (MLFLOW_TRACKING_USERNAME=${m.username} but MLFLOW_TRACKING_PASSWORD unset)`;
  else if (m.password) auth = 'none (MLFLOW_TRACKING_PASSWORD set but MLFLOW_TRACKING_USERNAME unset)';
  else auth = 'none';
  return {
    endpoint: withoutUserinfo(m.trackingUri),
    tls: tlsWords(m.trackingUri, m.serverCertPath, m.insecureTls),
    auth,
    clientCert: m.clientCertPath ? `client cert ${m.clientCertPath}` : 'none',
  };
}

function tlsWords(url: string, caPath: string | undefined, insecure: boolean): string {
  if (!/^https:/i.test(url)) return 'off';
  if (insecure) return 'on (verification OFF)';
  return caPath ? `on (CA file ${caPath})` : 'on (system CAs)';
}

/** At most 4 characters of an access key id, and never more than half of it. */
export function keyIdPrefix(accessKey: string): string {
  if (!accessKey) return '(empty)';
  return `${accessKey.slice(0, Math.min(4, Math.floor(accessKey.length / 2)))}…`;
}

function withoutUserinfo(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}
