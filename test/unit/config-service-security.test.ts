/**
 * Unit: loadConfig's S3 and MLflow TLS/credential settings: each variable, environment over
 * stack.env, secrets from the environment only, and fast errors naming the variable of a bad path
 * or value. describeSecurity says what is in use without any secret.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSecurity, keyIdPrefix } from '../../config/describe-security';
import { loadConfig } from '../../config/environment';
import { makeTlsFixtures, type TlsFixtures } from './tls-fixtures';

const SECRETS = {
  MLFLOW_TRACKING_PASSWORD: 'pw-Sup3rSecret',
  MLFLOW_TRACKING_TOKEN: 'tok-Sup3rSecret',
  AWS_SECRET_ACCESS_KEY: 'aws-Sup3rSecret',
  AWS_SESSION_TOKEN: 'sess-Sup3rSecret',
};

let tls: TlsFixtures;
let root: string;
let n = 0;

/** A fresh state folder with `stackEnv` as its stack.env; loadConfig over `env` and it. */
function load(env: Record<string, string>, stackEnv: Record<string, string> = {}) {
  const stateDir = join(root, `state-${n++}`);
  mkdirSync(stateDir);
  writeFileSync(
    join(stateDir, 'stack.env'),
    Object.entries(stackEnv)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
  );
  return loadConfig({ ONNX_EXPORT_STATE_DIR: stateDir, HOME: root, ...env });
}

beforeAll(() => {
  tls = makeTlsFixtures();
  root = mkdtempSync(join(tmpdir(), 'config-security-'));
});
afterAll(() => {
  tls?.cleanup();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('loadConfig: MLflow', () => {
  it('defaults: no credentials, no TLS settings', () => {
    const { mlflow } = load({});
    expect(mlflow).toMatchObject({
      username: undefined,
      password: undefined,
      token: undefined,
      serverCertPath: undefined,
      clientCertPath: undefined,
      insecureTls: false,
    });
  });

  it('reads every variable from the environment', () => {
    const { mlflow, sources } = load({
      MLFLOW_TRACKING_URI: 'https://mlflow.example:8443',
      MLFLOW_TRACKING_USERNAME: 'alice',
      MLFLOW_TRACKING_PASSWORD: SECRETS.MLFLOW_TRACKING_PASSWORD,
      MLFLOW_TRACKING_TOKEN: SECRETS.MLFLOW_TRACKING_TOKEN,
      MLFLOW_TRACKING_SERVER_CERT_PATH: tls.caCert,
      MLFLOW_TRACKING_CLIENT_CERT_PATH: tls.clientPem,
    });
    expect(mlflow).toEqual({
      trackingUri: 'https://mlflow.example:8443',
      username: 'alice',
      password: SECRETS.MLFLOW_TRACKING_PASSWORD,
      token: SECRETS.MLFLOW_TRACKING_TOKEN,
      serverCertPath: tls.caCert,
      clientCertPath: tls.clientPem,
      insecureTls: false,
    });
    expect(sources).toMatchObject({
      MLFLOW_TRACKING_USERNAME: 'environment',
      MLFLOW_TRACKING_PASSWORD: 'environment',
      MLFLOW_TRACKING_SERVER_CERT_PATH: 'environment',
    });
    expect(JSON.stringify(sources)).not.toContain('Sup3rSecret');
  });

  it('takes paths, the user name and the insecure flag from stack.env; the environment wins', () => {
    const stack = {
      MLFLOW_TRACKING_USERNAME: 'from-stack',
      MLFLOW_TRACKING_SERVER_CERT_PATH: tls.caCert,
      MLFLOW_TRACKING_CLIENT_CERT_PATH: tls.clientPem,
    };
    const fromStack = load({}, stack);
    expect(fromStack.mlflow).toMatchObject({
      username: 'from-stack',
      serverCertPath: tls.caCert,
      clientCertPath: tls.clientPem,
    });
    expect(fromStack.sources.MLFLOW_TRACKING_SERVER_CERT_PATH).toBe('stack.env');
    const both = load(
      { MLFLOW_TRACKING_USERNAME: 'from-env', MLFLOW_TRACKING_SERVER_CERT_PATH: tls.strangerCert },
      stack,
    );
    expect(both.mlflow).toMatchObject({ username: 'from-env', serverCertPath: tls.strangerCert });
    expect(load({}, { MLFLOW_TRACKING_INSECURE_TLS: 'TRUE' }).mlflow.insecureTls).toBe(true);
    expect(
      load({ MLFLOW_TRACKING_INSECURE_TLS: '0' }, { MLFLOW_TRACKING_INSECURE_TLS: 'true' }).mlflow.insecureTls,
    ).toBe(false);
  });

  it('a relative path in stack.env is relative to the state folder', () => {
    const stateDir = join(root, `state-${n++}`);
    mkdirSync(join(stateDir, 'certs'), { recursive: true });
    copyFileSync(tls.caCert, join(stateDir, 'certs', 'ca.crt'));
    writeFileSync(
      join(stateDir, 'stack.env'),
      'MLFLOW_TRACKING_SERVER_CERT_PATH=certs/ca.crt\nAWS_CA_BUNDLE=certs/ca.crt\n',
    );
    const config = loadConfig({ ONNX_EXPORT_STATE_DIR: stateDir, HOME: root });
    expect(config.mlflow.serverCertPath).toBe(join(stateDir, 'certs', 'ca.crt'));
    expect(config.s3.caBundlePath).toBe(join(stateDir, 'certs', 'ca.crt'));
  });

  it('never takes a password or token from stack.env', () => {
    const { mlflow } = load(
      {},
      {
        MLFLOW_TRACKING_USERNAME: 'alice',
        MLFLOW_TRACKING_PASSWORD: SECRETS.MLFLOW_TRACKING_PASSWORD,
        MLFLOW_TRACKING_TOKEN: SECRETS.MLFLOW_TRACKING_TOKEN,
      },
    );
    expect(mlflow.password).toBeUndefined();
    expect(mlflow.token).toBeUndefined();
    expect(mlflow.username).toBe('alice');
  });

  it('fails fast naming the variable when a path is missing, a folder, unreadable or the wrong PEM', () => {
    expect(() => load({ MLFLOW_TRACKING_SERVER_CERT_PATH: '/nope/ca.pem' })).toThrow(
      /^MLFLOW_TRACKING_SERVER_CERT_PATH=\/nope\/ca.pem: no such file$/,
    );
    expect(() => load({ MLFLOW_TRACKING_CLIENT_CERT_PATH: root })).toThrow(
      new RegExp(`^MLFLOW_TRACKING_CLIENT_CERT_PATH=${root}: not a file`),
    );
    expect(() => load({ MLFLOW_TRACKING_CLIENT_CERT_PATH: tls.caCert })).toThrow(
      /^MLFLOW_TRACKING_CLIENT_CERT_PATH=.*: no private key in it; expected one PEM file holding the client certificate and its private key/,
    );
    const notPem = join(root, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(() => load({ MLFLOW_TRACKING_SERVER_CERT_PATH: notPem })).toThrow(
      /^MLFLOW_TRACKING_SERVER_CERT_PATH=.*: no PEM certificate in it/,
    );
    if (process.getuid?.() !== 0) {
      const locked = join(root, 'locked.pem');
      copyFileSync(tls.caCert, locked);
      chmodSync(locked, 0o000);
      expect(() => load({ MLFLOW_TRACKING_SERVER_CERT_PATH: locked })).toThrow(
        /^MLFLOW_TRACKING_SERVER_CERT_PATH=.*: cannot be read \(EACCES\)$/,
      );
    }
    expect(() => load({}, { MLFLOW_TRACKING_SERVER_CERT_PATH: 'missing.pem' })).toThrow(
      /^MLFLOW_TRACKING_SERVER_CERT_PATH=missing.pem: no such file$/,
    );
  });

  it('refuses insecure TLS together with a server CA file, and a bad boolean', () => {
    expect(() => load({ MLFLOW_TRACKING_INSECURE_TLS: 'true', MLFLOW_TRACKING_SERVER_CERT_PATH: tls.caCert })).toThrow(
      /^MLFLOW_TRACKING_INSECURE_TLS=true and MLFLOW_TRACKING_SERVER_CERT_PATH=.* are both set: only one of them may be/,
    );
    expect(() => load({ MLFLOW_TRACKING_INSECURE_TLS: 'yes' })).toThrow(
      /^MLFLOW_TRACKING_INSECURE_TLS=yes: expected true, false, 1 or 0$/,
    );
  });

  it('refuses credentials inside a URL without printing them', () => {
    let message = '';
    try {
      load({ MLFLOW_TRACKING_URI: 'https://bob:hunter2@mlflow.example' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^MLFLOW_TRACKING_URI: credentials in the URL are not supported/);
    expect(message).not.toContain('hunter2');
    expect(() => load({ AWS_ENDPOINT_URL_S3: 'https://AKIA:secret@s3.example' })).toThrow(
      /^AWS_ENDPOINT_URL_S3: credentials in the URL are not supported; remove them and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY$/,
    );
  });
});

describe('loadConfig: S3', () => {
  it('reads AWS_CA_BUNDLE from the environment or stack.env, AWS_SESSION_TOKEN from the environment only', () => {
    expect(load({}).s3).toMatchObject({ caBundlePath: undefined, sessionToken: undefined });
    const env = load({ AWS_CA_BUNDLE: tls.caCert, AWS_SESSION_TOKEN: SECRETS.AWS_SESSION_TOKEN });
    expect(env.s3).toMatchObject({ caBundlePath: tls.caCert, sessionToken: SECRETS.AWS_SESSION_TOKEN });
    const stack = load(
      {},
      { AWS_CA_BUNDLE: tls.caCert, AWS_SESSION_TOKEN: SECRETS.AWS_SESSION_TOKEN, AWS_SECRET_ACCESS_KEY: 'x' },
    );
    expect(stack.s3.caBundlePath).toBe(tls.caCert);
    expect(stack.s3.sessionToken).toBeUndefined();
    expect(stack.s3.secretKey).toBe('minioadmin');
    expect(load({ AWS_CA_BUNDLE: tls.strangerCert }, { AWS_CA_BUNDLE: tls.caCert }).s3.caBundlePath).toBe(
      tls.strangerCert,
    );
  });

  it('fails fast naming AWS_CA_BUNDLE', () => {
    expect(() => load({ AWS_CA_BUNDLE: '/x' })).toThrow(/^AWS_CA_BUNDLE=\/x: no such file$/);
  });

  it('records whether the keys are the local default, never the keys', () => {
    expect(load({}).sources).toMatchObject({ AWS_ACCESS_KEY_ID: 'default', AWS_SECRET_ACCESS_KEY: 'default' });
    const set = load({ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: SECRETS.AWS_SECRET_ACCESS_KEY });
    expect(set.sources).toMatchObject({ AWS_ACCESS_KEY_ID: 'environment', AWS_SECRET_ACCESS_KEY: 'environment' });
    expect(JSON.stringify(set.sources)).not.toContain('Sup3rSecret');
  });
});

describe('describeSecurity', () => {
  it('says off / system CAs / CA file / verification OFF, and which credential kind is used', () => {
    expect(describeSecurity(load({}))).toEqual({
      s3: { endpoint: 'http://127.0.0.1:9000', tls: 'off', auth: 'access key mini…' },
      mlflow: { endpoint: expect.stringMatching(/^http:\/\//), tls: 'off', auth: 'none', clientCert: 'none' },
    });
    const secured = describeSecurity(
      load({
        AWS_ENDPOINT_URL_S3: 'https://s3.example',
        AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEY',
        AWS_SECRET_ACCESS_KEY: SECRETS.AWS_SECRET_ACCESS_KEY,
        AWS_SESSION_TOKEN: SECRETS.AWS_SESSION_TOKEN,
        AWS_CA_BUNDLE: tls.caCert,
        MLFLOW_TRACKING_URI: 'https://mlflow.example',
        MLFLOW_TRACKING_USERNAME: 'alice',
        MLFLOW_TRACKING_PASSWORD: SECRETS.MLFLOW_TRACKING_PASSWORD,
        MLFLOW_TRACKING_TOKEN: SECRETS.MLFLOW_TRACKING_TOKEN,
        MLFLOW_TRACKING_CLIENT_CERT_PATH: tls.clientPem,
      }),
    );
    expect(secured).toEqual({
      s3: {
        endpoint: 'https://s3.example',
        tls: `on (CA file ${tls.caCert})`,
        auth: 'access key AKIA…, session token',
      },
      mlflow: {
        endpoint: 'https://mlflow.example',
        tls: 'on (system CAs)',
        auth: 'basic (user alice)',
        clientCert: `client cert ${tls.clientPem}`,
      },
    });
    const text = JSON.stringify(secured);
    for (const secret of Object.values(SECRETS)) expect(text).not.toContain(secret);
    expect(text).not.toContain('AKIAEXAMPLEKEY');

    expect(
      describeSecurity(
        load({
          MLFLOW_TRACKING_URI: 'https://m',
          MLFLOW_TRACKING_TOKEN: SECRETS.MLFLOW_TRACKING_TOKEN,
          MLFLOW_TRACKING_INSECURE_TLS: '1',
        }),
      ).mlflow,
    ).toMatchObject({ tls: 'on (verification OFF)', auth: 'bearer token' });
    expect(describeSecurity(load({ MLFLOW_TRACKING_USERNAME: 'alice' })).mlflow.auth).toBe(
      'none (MLFLOW_TRACKING_USERNAME=alice but MLFLOW_TRACKING_PASSWORD unset)',
    );
  });

  it('shows at most 4 characters of an access key id, and never more than half of it', () => {
    expect(keyIdPrefix('AKIAEXAMPLEKEY')).toBe('AKIA…');
    expect(keyIdPrefix('abcdef')).toBe('abc…');
    expect(keyIdPrefix('ab')).toBe('a…');
    expect(keyIdPrefix('')).toBe('(empty)');
  });
});
