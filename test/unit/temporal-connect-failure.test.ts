import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/environment';
import { explainTemporalConnectFailure } from '../../temporal/connect-failure';

/** Nothing listens on port 1, so the TLS probe finds nothing and the SDK's own text decides. */
const config = (env: Record<string, string> = {}) =>
  loadConfig({ HOME: '/nonexistent', ONNX_EXPORT_STATE_DIR: '/nonexistent', TEMPORAL_ADDRESS: '127.0.0.1:1', ...env });

describe('explainTemporalConnectFailure', () => {
  it("names the endpoint, how we connected and the variable for the Rust core's untrusted-certificate error", async () => {
    const core = new Error(
      'tonic::transport::Error(Transport, ConnectError(Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer) }))',
    );
    const err = await explainTemporalConnectFailure(config({ TEMPORAL_API_KEY: 'k-123' }), core);
    expect(err.message).toMatch(
      /^Temporal at 127\.0\.0\.1:1 \(namespace default; TLS on \(system CAs\), auth API key\)/,
    );
    expect(err.message).toContain('set TEMPORAL_TLS_SERVER_CA_CERT_PATH');
    expect(err.message).not.toContain('k-123');
    expect(err.cause).toBe(core);
  });

  it('points at TEMPORAL_ADDRESS when nothing answers', async () => {
    const err = await explainTemporalConnectFailure(config(), new Error('connect ECONNREFUSED 127.0.0.1:1'));
    expect(err.message).toContain('TLS off, auth none');
    expect(err.message).toContain('check TEMPORAL_ADDRESS');
  });

  it('suggests a client certificate when a TLS server drops the connection', async () => {
    const core = new Error('transport error: hyper::Error(Canceled, "connection closed")');
    const err = await explainTemporalConnectFailure(config({ TEMPORAL_TLS: 'true' }), core);
    expect(err.message).toContain('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH');
  });
});
