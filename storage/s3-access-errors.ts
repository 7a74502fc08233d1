/**
 * The words of S3's access failures: refused or expired credentials, missing permission, and TLS
 * that cannot work. Each names S3, the endpoint and the variables to set; of the credentials only
 * the first characters of the access key id (not a secret) and set/unset states appear. The raw
 * S3 error is not kept as the cause: its parsed XML fields (a SignatureDoesNotMatch's canonical
 * request, say) can carry the session token, and whatever inspects an error prints them.
 */
import { LOCAL_DEFAULTS } from '../common/constants';
import { keyIdPrefix } from '../config/describe-security';
import type { S3Config } from '../config/environment';
import {
  ServiceAccessError,
  tlsFailureOf,
  tlsFailureReason,
  untrustedCertificateAdvice,
  urlForMessages,
} from '../config/service-access-error';

/** S3 error codes no retry with the same credentials can change. */
const AUTH_CODES: ReadonlySet<string> = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
]);

const SET_KEYS = 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';

function credentialState(s3: S3Config): string {
  const keys =
    s3.accessKey === LOCAL_DEFAULTS.minioAccessKey
      ? "the local stack's default keys"
      : `access key ${keyIdPrefix(s3.accessKey)}`;
  return `now: ${keys}, AWS_SESSION_TOKEN ${s3.sessionToken ? 'set' : 'unset'}`;
}

export interface S3Request {
  method?: string | undefined;
  bucket?: string | undefined;
  key?: string | undefined;
}

/** The ServiceAccessError `err` amounts to, or undefined when it is some other failure. */
export function s3AccessError(err: unknown, s3: S3Config, req: S3Request = {}): ServiceAccessError | undefined {
  const endpoint = urlForMessages(s3.endpoint);
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
  if (code && AUTH_CODES.has(code)) {
    const context = { service: 'S3' as const, problem: 'auth' as const, endpoint, code };
    return new ServiceAccessError(
      `S3 ${endpoint}: ${code}: ${authWords(code, s3, req)} (${credentialState(s3)})`,
      context,
    );
  }
  const tls = tlsFailureOf(err);
  if (!tls) return undefined;
  const why = tlsFailureReason(tls);
  let message: string;
  if (tls.kind === 'not-tls') {
    message =
      `S3 ${endpoint}: the server does not speak TLS (${why}): the endpoint is https:// but this port answers ` +
      "plain http; use http:// in AWS_ENDPOINT_URL_S3, or the server's TLS port";
  } else {
    const advice = untrustedCertificateAdvice(tls, {
      urlVariable: 'AWS_ENDPOINT_URL_S3',
      caVariable: 'AWS_CA_BUNDLE',
      caPath: s3.caBundlePath,
    });
    message =
      tls.kind === 'verify'
        ? `S3 ${endpoint}: TLS certificate verification failed (${why}); ${advice}`
        : `S3 ${endpoint}: TLS handshake failed (${why}); check the endpoint's TLS setup and AWS_CA_BUNDLE`;
  }
  return new ServiceAccessError(message, { service: 'S3', problem: 'tls', endpoint, code: tls.code }, { cause: err });
}

function authWords(code: string, s3: S3Config, req: S3Request): string {
  const key = `access key ${keyIdPrefix(s3.accessKey)}`;
  switch (code) {
    case 'InvalidAccessKeyId':
      return `the server knows no ${key}; ${SET_KEYS}`;
    case 'SignatureDoesNotMatch':
      return `AWS_SECRET_ACCESS_KEY is not the secret of ${key}; ${SET_KEYS}`;
    case 'AccessDenied': {
      const what = req.bucket ? ` ${req.method ?? ''} s3://${req.bucket}/${req.key ?? ''}`.replace(/^ +/, ' ') : '';
      return (
        `${key} lacks permission for${what || ' this request'} (or the credentials are wrong: check ` +
        'AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN)'
      );
    }
    default:
      return 'the temporary credentials have expired or are invalid; refresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN';
  }
}

/** An http:// endpoint whose server speaks only TLS on that port. */
export function s3PlainHttpToTlsError(s3: S3Config): ServiceAccessError {
  const endpoint = urlForMessages(s3.endpoint);
  return new ServiceAccessError(
    `S3 ${endpoint}: the server speaks TLS on this port but the endpoint is http://; use https:// in AWS_ENDPOINT_URL_S3`,
    { service: 'S3', problem: 'tls', endpoint, code: '400' },
  );
}
