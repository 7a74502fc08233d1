/**
 * Turns a failed Temporal connection into one sentence a platform engineer can act on: the
 * endpoint, how we tried (TLS, auth), what went wrong, and the variable to set. The SDK's errors
 * (grpc-js for the client, the Rust core for the worker) name TLS and auth problems differently;
 * both are matched here, and a TLS handshake of our own says what neither does.
 */
import type { PipelineConfig } from '../config/environment';
import { probeTemporalTls } from './tls-probe';

export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
  constructor(
    readonly address: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface Diagnosis {
  test: RegExp;
  hint: (tlsOn: boolean) => string;
}

const CLIENT_CERT_HINT =
  'set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH to a client certificate the server trusts';

/** First match wins; the patterns are the texts both SDK layers use for each cause. */
const DIAGNOSES: readonly Diagnosis[] = [
  {
    test: /certificate required|bad certificate|unknown ca|certificate unknown|alert.*(handshake|access denied)|decrypt error/i,
    hint: (tlsOn) =>
      tlsOn ? `the server refused our client certificate or wants one: ${CLIENT_CERT_HINT}` : CLIENT_CERT_HINT,
  },
  {
    test: /UnknownIssuer|self[- ]signed|unable to (get|verify)|certificate verify failed|invalid peer certificate|CERT_|NotValidForName|altname/i,
    hint: () =>
      "the server's certificate is not trusted: set TEMPORAL_TLS_SERVER_CA_CERT_PATH to its CA (and TEMPORAL_TLS_SERVER_NAME if it is issued for another name)",
  },
  {
    test: /wrong version number|packet length too long|InvalidContentType|corrupt message|http\/1|unexpected eof|ssl3_get_record/i,
    hint: (tlsOn) =>
      tlsOn
        ? 'the endpoint does not speak TLS: check TEMPORAL_ADDRESS, or set TEMPORAL_TLS=false'
        : 'the endpoint may require TLS: set TEMPORAL_TLS=true (with TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA)',
  },
  {
    test: /unauthenticated|permission[ _]denied|invalid api key|unauthorized/i,
    hint: () =>
      'the server refused our credentials: set TEMPORAL_API_KEY, or the client certificate variables for mTLS',
  },
  {
    test: /ECONNREFUSED|Connection refused|ENOTFOUND|No such host|Name or service not known/i,
    hint: () => 'nothing answers there: check TEMPORAL_ADDRESS (or the profile in TEMPORAL_CONFIG_FILE)',
  },
  {
    test: /Connection dropped|connection closed|operation was cancel+ed|ECONNRESET|connection reset|broken pipe|GOAWAY|h2 protocol|frame/i,
    hint: (tlsOn) =>
      tlsOn
        ? `the server closed the connection during the handshake; if it requires mutual TLS, ${CLIENT_CERT_HINT}`
        : 'the server closed the connection: it may require TLS (TEMPORAL_TLS=true, TEMPORAL_TLS_SERVER_CA_CERT_PATH) or a client certificate',
  },
  {
    test: /deadline|timed? ?out|timeout/i,
    hint: (tlsOn) =>
      tlsOn
        ? 'no answer in time: check TEMPORAL_ADDRESS, and that the endpoint speaks TLS'
        : 'no answer in time: check TEMPORAL_ADDRESS; if the endpoint requires TLS, set TEMPORAL_TLS=true',
  },
];

function errorText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    if (e instanceof Error) {
      parts.push(e.message);
      e = (e as Error & { cause?: unknown }).cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(': ');
}

/**
 * The error to throw in place of `err`; its message names the endpoint, the cause and the fix. A TLS
 * handshake of our own (tls-probe.ts) tells the cause when the SDK's error text does not.
 */
export async function explainTemporalConnectFailure(
  config: PipelineConfig,
  err: unknown,
): Promise<TemporalUnreachableError> {
  const { address, namespace, security, connection } = config.temporal;
  const text = errorText(err).replace(/\s+/g, ' ').trim();
  const tlsOn = security.tls !== 'off';
  const how = `TLS ${security.tls}, auth ${security.auth}${security.profile ? `, profile ${security.profile}` : ''}`;
  const finding = await probeTemporalTls(address, connection.tls).catch(() => undefined);
  const diagnosis = DIAGNOSES.find((d) => d.test.test(text));
  const reason = finding ? finding.cause : text.length > 300 ? `${text.slice(0, 300)}…` : text;
  const hint = finding ? `; ${finding.hint}` : diagnosis ? `; ${diagnosis.hint(tlsOn)}` : '';
  return new TemporalUnreachableError(
    address,
    `Temporal at ${address} (namespace ${namespace}; ${how}): cannot connect: ${reason}${hint}`,
    { cause: err },
  );
}
