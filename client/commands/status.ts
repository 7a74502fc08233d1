import type { Command } from 'commander';
import { snapshot, stageLines } from '../export-view';
import { withTemporalClient, workflowUiLink } from '../../temporal/connect';

export function register(program: Command): void {
  program
    .command('status')
    .description("an export's status and stages")
    .argument('<workflow-id>')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withTemporalClient(async (client, config) => {
        const s = await snapshot(client.workflow.getHandle(id));
        const link = workflowUiLink(config, id, s.runId);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ...s, link }, null, 2)}\n`);
        } else {
          process.stdout.write(
            [
              `${id}: ${s.status.toLowerCase()}${s.progress?.failure ? ` (${s.progress.failure})` : ''}`,
              ...stageLines(s),
              `Web UI: ${link}`,
            ].join('\n') + '\n',
          );
        }
      });
    });
}
