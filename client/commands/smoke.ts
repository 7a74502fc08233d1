import type { Command } from 'commander';
import { SMOKE_WORKFLOW_ID_PREFIX, TASK_QUEUES } from '../../common/constants';
import { loadConfig } from '../../config/environment';
import type { stackSmoke } from '../../workflows';
import { connectClient, workflowUiLink } from '../../temporal/connect';

/** `smoke`: runs the stackSmoke workflow (MinIO and MLflow round trips) on a running worker. */
export function register(program: Command): void {
  program
    .command('smoke')
    .description('run the first path through Temporal, MinIO and MLflow (needs a running worker)')
    .option('--model-name <name>', 'registered model to create and read back', 'onnx-export-smoke')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { modelName: string; json?: boolean }) => {
      const config = loadConfig();
      const client = await connectClient(config);
      const workflowId = `${SMOKE_WORKFLOW_ID_PREFIX}${Date.now()}`;
      const handle = await client.workflow.start<typeof stackSmoke>('stackSmoke', {
        taskQueue: TASK_QUEUES.export,
        workflowId,
        args: [{ registeredModelName: opts.modelName }],
        workflowExecutionTimeout: '5 minutes',
      });
      const link = workflowUiLink(config, workflowId, handle.firstExecutionRunId);
      if (!opts.json) process.stdout.write(`started ${workflowId}\n  ${link}\n`);
      const result = await handle.result();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ workflowId, link, result }, null, 2)}\n`);
      } else {
        process.stdout.write(
          `MinIO:  wrote and read back ${result.object.uri} (${result.object.bytes} bytes, sha256 ${result.object.sha256.slice(0, 12)}...)\n` +
            `MLflow: registered model '${result.registeredModel.name}' readable (server ${result.registeredModel.serverVersion})\n` +
            `Web UI: ${link}\n`,
        );
      }
      await client.connection.close();
    });
}
