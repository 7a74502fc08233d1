import type { Command } from 'commander';
import { formatResult } from '../export-view';
import { workflowFailureMessage } from '../workflow-failure';
import type { exportModel } from '../../workflows/export-model';
import { withTemporalClient, workflowUiLink } from '../../temporal/connect';

export function register(program: Command): void {
  program
    .command('result')
    .description("an export's result (waits for it to finish)")
    .argument('<workflow-id>')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withTemporalClient(async (client, config) => {
        try {
          const result = await client.workflow.getHandle<typeof exportModel>(id).result();
          process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatResult(result)}\n`);
        } catch (err) {
          const failure = workflowFailureMessage(err);
          if (failure === undefined) throw err;
          process.stderr.write(`export ${id} failed: ${failure}\nWeb UI: ${workflowUiLink(config, id)}\n`);
          process.exitCode = 1;
        }
      });
    });
}
