/**
 * A throw-away secured stack (`STACK_SECURED=1 scripts/stack.sh up`): Temporal behind a mutual-TLS
 * proxy, MinIO over TLS with fresh random credentials, MLflow over TLS with basic auth and a non-admin
 * pipeline user. Its own free ports and state folder, like `throwAwayStack` (which it reuses); `env`
 * is everything a pipeline process needs to use it (worker, CLI, MLflow's Python client).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnvFile } from '../../../config/environment';
import { freePorts, STACK_PORTS, throwAwayStack, type ThrowAwayStack } from './fault-injection';

/** The plain stack's ports plus the TLS proxy's Temporal port and MLflow's private plain port. */
export const SECURED_STACK_PORTS = [...STACK_PORTS, 'TEMPORAL_TLS_PORT', 'MLFLOW_BACKEND_PORT'] as const;

export interface SecuredStack {
  stateDir: string;
  ports: Record<(typeof SECURED_STACK_PORTS)[number], string>;
  endpoints: {
    /** host:port of the mTLS proxy: the only Temporal endpoint the pipeline is given. */
    temporal: string;
    /** The dev server's own plain port (loopback, for the stack script's admin calls). */
    temporalPlain: string;
    temporalUi: string;
    /** https:// */
    s3: string;
    /** https:// (the TLS proxy in front of MLflow) */
    mlflow: string;
  };
  tls: { ca: string; clientCert: string; clientKey: string };
  /** A client certificate from an unrelated CA, which the stack must refuse. */
  rogue: { ca: string; clientCert: string; clientKey: string };
  adminAuth: { username: string; password: string };
  pipelineAuth: { username: string; password: string };
  s3Credentials: { accessKey: string; secretKey: string };
  /** stack.env + secrets.env + the S3 credentials + ONNX_EXPORT_STATE_DIR/WORK_DIR: a pipeline process's environment. */
  env: Record<string, string>;
  /** The underlying throw-away stack (stop/start single services). */
  stack: ThrowAwayStack;
  /** Stops everything and removes the state and work folders. */
  down(): Promise<void>;
}

/** Starts a secured stack; on a failed start it is torn down again and the error says where the logs were. */
export async function securedStack(): Promise<SecuredStack> {
  const ports = freePorts(SECURED_STACK_PORTS) as SecuredStack['ports'];
  const s3Credentials = {
    accessKey: `test-${randomBytes(6).toString('hex')}`,
    secretKey: randomBytes(18).toString('base64url'),
  };
  const stack = throwAwayStack(ports, {
    STACK_SECURED: '1',
    AWS_ACCESS_KEY_ID: s3Credentials.accessKey,
    AWS_SECRET_ACCESS_KEY: s3Credentials.secretKey,
  });
  const { stateDir } = stack;
  try {
    await stack.up();
  } catch (err) {
    const logs = join(stateDir, 'logs');
    const tails = existsSync(logs)
      ? ['temporal', 'minio', 'mlflow', 'haproxy']
          .map((s) => join(logs, `${s}.log`))
          .filter((f) => existsSync(f))
          .map((f) => `--- ${f}\n${readFileSync(f, 'utf8').slice(-2_000)}`)
          .join('\n')
      : '';
    await stack.down().catch(() => undefined);
    throw new Error(`secured stack did not start: ${String(err)}\n${tails}`);
  }
  const stackEnv = parseEnvFile(readFileSync(join(stateDir, 'stack.env'), 'utf8'));
  const secrets = parseEnvFile(readFileSync(join(stateDir, 'secrets.env'), 'utf8'));
  const tlsDir = join(stateDir, 'tls');
  const workDir = mkdtempSync(join(tmpdir(), 'onnx-export-secured-work-'));
  const need = (vars: Record<string, string>, name: string): string => {
    const v = vars[name];
    if (!v) throw new Error(`the secured stack wrote no ${name}`);
    return v;
  };
  const env: Record<string, string> = {
    ...stackEnv,
    ...secrets,
    AWS_ACCESS_KEY_ID: s3Credentials.accessKey,
    AWS_SECRET_ACCESS_KEY: s3Credentials.secretKey,
    // MLflow's Python client downloads artifacts with boto3 through this variable, not AWS_ENDPOINT_URL_S3.
    MLFLOW_S3_ENDPOINT_URL: need(stackEnv, 'AWS_ENDPOINT_URL_S3'),
    ONNX_EXPORT_STATE_DIR: stateDir,
    ONNX_EXPORT_WORK_DIR: workDir,
  };
  return {
    stateDir,
    ports,
    endpoints: {
      temporal: need(stackEnv, 'TEMPORAL_ADDRESS'),
      temporalPlain: `127.0.0.1:${ports.TEMPORAL_PORT}`,
      temporalUi: need(stackEnv, 'TEMPORAL_UI_URL'),
      s3: need(stackEnv, 'AWS_ENDPOINT_URL_S3'),
      mlflow: need(stackEnv, 'MLFLOW_TRACKING_URI'),
    },
    tls: {
      ca: need(stackEnv, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'),
      clientCert: need(stackEnv, 'TEMPORAL_TLS_CLIENT_CERT_PATH'),
      clientKey: need(stackEnv, 'TEMPORAL_TLS_CLIENT_KEY_PATH'),
    },
    rogue: {
      ca: join(tlsDir, 'rogue-ca.pem'),
      clientCert: join(tlsDir, 'rogue-client.pem'),
      clientKey: join(tlsDir, 'rogue-client-key.pem'),
    },
    adminAuth: { username: need(secrets, 'MLFLOW_ADMIN_USERNAME'), password: need(secrets, 'MLFLOW_ADMIN_PASSWORD') },
    pipelineAuth: {
      username: need(stackEnv, 'MLFLOW_TRACKING_USERNAME'),
      password: need(secrets, 'MLFLOW_TRACKING_PASSWORD'),
    },
    s3Credentials,
    env,
    stack,
    async down() {
      try {
        await stack.down();
      } finally {
        rmSync(workDir, { recursive: true, force: true });
      }
    },
  };
}
