import type { Command } from 'commander';
import { snapshot, stageLines } from '../export-view';
import { parityCaseLines, paritySummary, signatureLines } from '../signature-view';
import type { exportModel } from '../../workflows/export-model';
import { withTemporalClient, workflowUiLink } from '../../temporal/connect';

export function register(program: Command): void {
  program
    .command('status')
    .description("an export's status and stages")
    .argument('<workflow-id>')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withTemporalClient(async (client, config) => {
        const handle = client.workflow.getHandle<typeof exportModel>(id);
        const s = await snapshot(handle);
        const link = workflowUiLink(config, id, s.runId);
        // A finished export's result holds its signature and parity per case (the query may find no worker).
        const result = s.status === 'COMPLETED' ? await handle.result().catch(() => undefined) : undefined;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ ...s, link }, null, 2)}\n`);
        } else {
          const signature = result?.emission.signature ?? s.progress?.signature;
          process.stdout.write(
            [
              `${id}: ${s.status.toLowerCase()}${s.progress?.failure ? ` (${s.progress.failure})` : ''}`,
              ...stageLines(s),
              ...(signature ? signatureLines(signature) : []),
              ...(result
                ? [`  parity     ${paritySummary(result.parity)}`, ...parityCaseLines(result.parity, '             ')]
                : []),
              `Web UI: ${link}`,
            ].join('\n') + '\n',
          );
        }
      });
    });
}
