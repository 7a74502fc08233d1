/**
 * The words of MLflow's access failures: refused credentials (401/403) and TLS that cannot work.
 * Each names MLflow, the URL asked (no userinfo, no query) and the variable to set; a credential's
 * state is told as set/unset, never its value. All are ServiceAccessErrors: no retry changes them.
 */
import {
  ServiceAccessError,
  tlsFailureReason,
  untrustedCertificateAdvice,
  type TlsFailure,
} from '../config/service-access-error';
import type { MlflowConnection } from './mlflow-connection';

const SET_CREDENTIALS = 'set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)';

function credentialState(c: MlflowConnection): string {
  const s = (set: boolean) => (set ? 'set' : 'unset');
  return (
    `MLFLOW_TRACKING_USERNAME ${s(c.credentialsSet.username)}, MLFLOW_TRACKING_PASSWORD ${s(c.credentialsSet.password)}, ` +
    `MLFLOW_TRACKING_TOKEN ${s(c.credentialsSet.token)}`
  );
}

/** 401: nothing (or nothing acceptable) was sent. 403: who we are may not do `action`. */
export function mlflowAuthError(
  url: string,
  status: 401 | 403,
  action: string,
  c: MlflowConnection,
  serverMessage: string,
): ServiceAccessError {
  const context = { service: 'MLflow' as const, problem: 'auth' as const, endpoint: url, code: String(status) };
  if (status === 401) {
    const sent =
      c.auth.kind === 'basic'
        ? `the server refused basic auth for user ${c.auth.username}`
        : c.auth.kind === 'bearer'
          ? 'the server refused the bearer token (MLFLOW_TRACKING_TOKEN)'
          : 'no credentials were sent';
    return new ServiceAccessError(
      `MLflow ${url}: HTTP 401 Unauthorized: ${sent}; ${SET_CREDENTIALS} (now: ${credentialState(c)})`,
      context,
    );
  }
  const who =
    c.auth.kind === 'basic'
      ? `user ${c.auth.username} lacks permission for ${action}`
      : c.auth.kind === 'bearer'
        ? `the user of MLFLOW_TRACKING_TOKEN lacks permission for ${action}`
        : `anonymous requests lack permission for ${action}; ${SET_CREDENTIALS}`;
  const detail = serverMessage.trim() ? ` (server: ${serverMessage.trim().slice(0, 200)})` : '';
  return new ServiceAccessError(`MLflow ${url}: HTTP 403 Forbidden: ${who}${detail}`, context);
}

export function mlflowTlsError(url: string, tls: TlsFailure, c: MlflowConnection, cause: unknown): ServiceAccessError {
  const context = { service: 'MLflow' as const, problem: 'tls' as const, endpoint: url, code: tls.code };
  const why = tlsFailureReason(tls);
  let message: string;
  if (tls.kind === 'not-tls') {
    message =
      `MLflow ${url}: the server does not speak TLS (${why}): MLFLOW_TRACKING_URI is https:// but this port ` +
      "answers plain http; use http:// or the server's TLS port";
  } else if (tls.kind === 'handshake') {
    message =
      `MLflow ${url}: TLS handshake failed (${why}); if the server requires a client certificate, set ` +
      `MLFLOW_TRACKING_CLIENT_CERT_PATH to one PEM file with the certificate and its key`;
  } else {
    const advice = untrustedCertificateAdvice(tls, {
      urlVariable: 'MLFLOW_TRACKING_URI',
      caVariable: 'MLFLOW_TRACKING_SERVER_CERT_PATH',
      caPath: c.serverCertPath,
    });
    message = `MLflow ${url}: TLS certificate verification failed (${why}); ${advice}`;
  }
  return new ServiceAccessError(message, context, { cause });
}

/** An http:// URI whose server speaks only TLS (nginx's and Go's 400 answers say so). */
export function mlflowPlainHttpToTlsError(url: string): ServiceAccessError {
  return new ServiceAccessError(
    `MLflow ${url}: the server speaks TLS on this port but MLFLOW_TRACKING_URI is http://; use https://`,
    { service: 'MLflow', problem: 'tls', endpoint: url, code: '400' },
  );
}
