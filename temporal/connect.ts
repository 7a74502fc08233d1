/** A Temporal client for the configured cluster, and the Web UI link of a workflow. */
import { Client, Connection } from '@temporalio/client';
import { loadConfig, type PipelineConfig } from '../config/environment';

export async function connectClient(config: PipelineConfig): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '5 seconds' });
  return new Client({ connection, namespace: config.temporal.namespace });
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
