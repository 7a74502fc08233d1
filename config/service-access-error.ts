/**
 * A service refused us for a reason no retry can change: the credentials (missing, wrong, expired,
 * lacking permission) or TLS (an untrusted or mismatched certificate, TLS spoken to a plain-http
 * port). Raised by the S3 client (storage/minio-client.ts) and the MLflow client (registry/); it lives
 * in config/, beside the settings it says are wrong, because that is the room of the services'
 * endpoints, credentials and TLS that both may import. activities/failures.ts turns it into a
 * non-retryable ServiceAuthFailed / ServiceTlsFailed, so wrong credentials fail an export in
 * seconds instead of retrying for minutes. Messages name the service, the endpoint and the variables
 * to set; they never carry a credential (callers build them from names and set/unset states only).
 */

export type AccessProblem = 'auth' | 'tls';

export interface ServiceAccessContext {
  readonly service: 'MLflow' | 'S3';
  readonly problem: AccessProblem;
  /** The URL asked, without userinfo or query string. */
  readonly endpoint: string;
  /** S3 error code (`InvalidAccessKeyId`), HTTP status as text (`401`), or TLS error code (`CERT_HAS_EXPIRED`). */
  readonly code: string | undefined;
}

export class ServiceAccessError extends Error {
  readonly retryable = false;
  constructor(
    message: string,
    readonly context: ServiceAccessContext,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ServiceAccessError';
  }
}

/** Node/OpenSSL codes of a server certificate we do not trust (or that does not name the host). */
const TLS_VERIFY_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
]);

export type TlsFailureKind = 'verify' | 'not-tls' | 'handshake';

export interface TlsFailure {
  kind: TlsFailureKind;
  code: string;
  detail: string;
}

/**
 * The TLS failure somewhere in `err`'s cause chain, or undefined. `not-tls`: an https URL answered
 * by a plain-http server (OpenSSL's "wrong version number" / "packet length too long").
 * `handshake`: another handshake refusal (e.g. the server wants a client certificate).
 */
export function tlsFailureOf(err: unknown): TlsFailure | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    const message = e instanceof Error ? e.message : '';
    if (typeof code === 'string') {
      if (TLS_VERIFY_CODES.has(code)) return { kind: 'verify', code, detail: message };
      if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(message))
        return { kind: 'not-tls', code, detail: message };
      if (code === 'EPROTO' || code.startsWith('ERR_SSL_')) return { kind: 'handshake', code, detail: message };
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The failure as it is quoted in a message: its code, and OpenSSL's or Node's text when there is one. */
export function tlsFailureReason(tls: TlsFailure): string {
  return `${tls.code}${tls.detail ? `: ${tls.detail}` : ''}`;
}

/**
 * What to do about a server certificate we do not trust, for either service: a host-name or
 * validity problem first when that is the cause, then the CA variable (its path when set).
 */
export function untrustedCertificateAdvice(
  tls: TlsFailure,
  names: { urlVariable: string; caVariable: string; caPath: string | undefined },
): string {
  const { urlVariable, caVariable, caPath } = names;
  const ca = caPath
    ? `${caVariable}=${caPath} does not verify it; point it at the CA (PEM) that signed the server's certificate`
    : `set ${caVariable} to the CA (PEM) that signed the server's certificate (${caVariable} unset: system CAs only)`;
  const host =
    tls.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
      ? `the certificate does not name this host: use a host name it names in ${urlVariable}, or `
      : tls.code === 'CERT_HAS_EXPIRED' || tls.code === 'CERT_NOT_YET_VALID'
        ? "the server's certificate is outside its validity period (renew it), or "
        : '';
  return `${host}${ca}`;
}

/** The first ServiceAccessError in `err`'s cause chain (wrappers such as StorageError keep it as cause). */
export function findServiceAccessError(err: unknown): ServiceAccessError | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 8; depth++) {
    if (e instanceof ServiceAccessError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A URL as it may appear in a message: no `user:password@`, no query string. */
export function urlForMessages(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '<unparseable URL>';
  }
}
