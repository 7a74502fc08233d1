/**
 * The one place that connects to Temporal: the client (CLI, activities, tests) and the worker's
 * native connection, both from `config.temporal.connection` (the SDK's environment configuration,
 * see config/temporal-connection.ts). A connection that fails says which endpoint, why, and which
 * variable to set, and never includes key material.
 */
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig, type PipelineConfig } from '../config/environment';
import { explainTemporalConnectFailure } from './connect-failure';

export { TemporalUnreachableError } from './connect-failure';

const CONNECT_TIMEOUT = '5 seconds';

/** The options both connection kinds take, with what envconfig resolved. */
function connectionOptions(config: PipelineConfig): ConnectionOptions {
  const c = config.temporal.connection;
  return {
    address: c.address,
    ...(c.tls !== undefined ? { tls: c.tls } : {}),
    ...(c.apiKey ? { apiKey: c.apiKey } : {}),
    ...(c.metadata ? { metadata: c.metadata } : {}),
  };
}

/** A client connection, checked (the SDK asks the server for its system info before it resolves). */
export async function connectTemporal(config: PipelineConfig): Promise<Connection> {
  try {
    return await Connection.connect({ ...connectionOptions(config), connectTimeout: CONNECT_TIMEOUT });
  } catch (err) {
    throw await explainTemporalConnectFailure(config, err);
  }
}

export async function connectClient(config: PipelineConfig): Promise<Client> {
  const connection = await connectTemporal(config);
  return new Client({ connection, namespace: config.temporal.namespace });
}

/** The worker's connection (the Rust core's), with the same settings as the client's. */
export async function connectWorkerConnection(config: PipelineConfig): Promise<NativeConnection> {
  const { address, tls, apiKey, metadata } = config.temporal.connection;
  try {
    return await NativeConnection.connect({
      address,
      ...(tls !== undefined ? { tls } : {}),
      ...(typeof apiKey === 'string' ? { apiKey } : {}),
      ...(metadata ? { metadata } : {}),
    });
  } catch (err) {
    throw await explainTemporalConnectFailure(config, err);
  }
}

export function workflowUiLink(config: PipelineConfig, workflowId: string, runId?: string): string {
  const base = config.temporal.uiUrl.replace(/\/+$/, '');
  const ns = encodeURIComponent(config.temporal.namespace);
  const id = encodeURIComponent(workflowId);
  return runId
    ? `${base}/namespaces/${ns}/workflows/${id}/${encodeURIComponent(runId)}/history`
    : `${base}/namespaces/${ns}/workflows/${id}`;
}

/** Runs `fn` with the configured Temporal client and closes its connection afterwards, also on error. */
export async function withTemporalClient<T>(
  fn: (client: Client, config: PipelineConfig) => Promise<T>,
  config: PipelineConfig = loadConfig(),
): Promise<T> {
  const client = await connectClient(config);
  try {
    return await fn(client, config);
  } finally {
    await client.connection.close();
  }
}
