/**
 * The shapes of the S3 and MLflow settings and where a setting's value came from: types only, so
 * that environment.ts (which resolves them) and service-security.ts / describe-security.ts (which
 * fill in and describe their TLS and credential parts) share them without importing each other.
 *
 * Must not: read the environment or files (environment.ts, service-security.ts do).
 */

export type ValueSource = 'environment' | 'stack.env' | 'config file' | 'default';

export interface S3Config {
  /** e.g. http://127.0.0.1:9000 */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  modelsBucket: string;
  checkpointsBucket: string;
  /** AWS_CA_BUNDLE: a PEM file of the CAs to trust for an https endpoint (absent: Node's system CAs). */
  caBundlePath: string | undefined;
  /** AWS_SESSION_TOKEN, with temporary credentials (process environment only). */
  sessionToken: string | undefined;
}

/** MLflow's tracking server, with the variables and semantics of MLflow's own Python client. */
export interface MlflowConfig {
  trackingUri: string;
  /** MLFLOW_TRACKING_USERNAME: basic auth, together with the password. */
  username: string | undefined;
  /** MLFLOW_TRACKING_PASSWORD (process environment only). */
  password: string | undefined;
  /** MLFLOW_TRACKING_TOKEN: bearer auth, used when username and password are not both set (as MLflow does). */
  token: string | undefined;
  /** MLFLOW_TRACKING_SERVER_CERT_PATH: a PEM file of the CAs to trust (absent: Node's system CAs). */
  serverCertPath: string | undefined;
  /** MLFLOW_TRACKING_CLIENT_CERT_PATH: one PEM file holding the client certificate and its private key. */
  clientCertPath: string | undefined;
  /** MLFLOW_TRACKING_INSECURE_TLS: the server's certificate is not verified. Never with serverCertPath. */
  insecureTls: boolean;
}
