import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveTemporalConnection, TemporalConfigError } from '../../config/temporal-connection';

const dir = mkdtempSync(join(tmpdir(), 'temporal-connection-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An environment with no Temporal settings and no reachable default config file. */
const bare = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ HOME: dir, ...extra });

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('resolveTemporalConnection (the SDK environment configuration)', () => {
  it('falls back to the local dev server without TLS when nothing is configured', () => {
    const { connection, security } = resolveTemporalConnection(bare(), {});
    expect(connection).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', apiKey: undefined });
    expect(connection.tls).toBeFalsy();
    expect(security).toEqual({ tls: 'off', auth: 'none', profile: undefined });
  });

  it('turns TLS on for an API key, as Temporal Cloud needs, and reports it without the key', () => {
    const { connection, security } = resolveTemporalConnection(
      bare({ TEMPORAL_ADDRESS: 'acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'key-123' }),
      {},
    );
    expect(connection).toMatchObject({ address: 'acct.tmprl.cloud:7233', namespace: 'ns.acct', apiKey: 'key-123' });
    expect(connection.tls).toBe(true);
    expect(security).toEqual({ tls: 'on (system CAs)', auth: 'API key', profile: undefined });
    expect(JSON.stringify(security)).not.toContain('key-123');
  });

  it('loads mTLS key material from the TEMPORAL_TLS_* paths', () => {
    const ca = file('ca.pem', 'CA-PEM');
    const env = bare({
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_CLIENT_CERT_PATH: file('client.pem', 'CERT-PEM'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: file('client-key.pem', 'KEY-PEM'),
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    });
    const { connection, security } = resolveTemporalConnection(env, {});
    const tls = connection.tls as { serverRootCACertificate: Buffer; clientCertPair: { crt: Buffer; key: Buffer } };
    expect(tls.serverRootCACertificate.toString()).toBe('CA-PEM');
    expect(tls.clientCertPair.key.toString()).toBe('KEY-PEM');
    expect(security).toEqual({ tls: `on (CA file ${ca})`, auth: 'client certificate', profile: undefined });
  });

  it('takes the local stack file under the environment, and not at all when a profile is named', () => {
    const stackEnv = { TEMPORAL_ADDRESS: '127.0.0.1:17233', TEMPORAL_NAMESPACE: 'stack-ns' };
    const under = resolveTemporalConnection(bare({ TEMPORAL_NAMESPACE: 'env-ns' }), stackEnv);
    expect(under.connection).toMatchObject({ address: '127.0.0.1:17233', namespace: 'env-ns' });
    expect(under.fromStackEnv).toEqual(['TEMPORAL_ADDRESS']);

    const toml = file('temporal.toml', '[profile.prod]\naddress = "prod.example:7233"\nnamespace = "prod"\n');
    const named = resolveTemporalConnection(bare({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' }), stackEnv);
    expect(named.connection).toMatchObject({ address: 'prod.example:7233', namespace: 'prod' });
    expect(named.fromStackEnv).toEqual([]);
    expect(named.security.profile).toBe('prod');
  });

  it('names the variable when a certificate path does not exist', () => {
    expect(() => resolveTemporalConnection(bare({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/no/such.pem' }), {})).toThrow(
      new TemporalConfigError('TEMPORAL_TLS_CLIENT_CERT_PATH=/no/such.pem: no such file'),
    );
    expect(() => resolveTemporalConnection(bare(), { TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/gone/ca.pem' })).toThrow(
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH=/gone/ca.pem (from stack.env): no such file',
    );
  });

  it('names the profile and the file when the profile is not there', () => {
    const toml = file('other.toml', '[profile.dev]\naddress = "a:1"\n');
    expect(() => resolveTemporalConnection(bare({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' }), {})).toThrow(
      /Temporal configuration from .*other\.toml, profile prod \(TEMPORAL_PROFILE\): .*prod.*not found/,
    );
  });
});
