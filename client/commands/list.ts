import type { Command } from 'commander';
import { EXPORT_WORKFLOW_TYPE } from '../../common/export-contract';
import { searchAttributeKeys } from '../../common/search-attributes';
import { withTemporalClient, workflowUiLink } from '../../temporal/connect';

/** Quotes a value for a Temporal visibility query. */
function quote(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function register(program: Command): void {
  program
    .command('list')
    .description('recent exports, newest first')
    .option('--model <name>', 'only exports of this registered model name')
    .option('--limit <n>', 'at most this many', '20')
    .option('--json', 'print JSON')
    .action(async (opts: { model?: string; limit: string; json?: boolean }) => {
      await withTemporalClient(async (client, config) => {
        const query = [
          `WorkflowType = ${quote(EXPORT_WORKFLOW_TYPE)}`,
          ...(opts.model ? [`ModelName = ${quote(opts.model)}`] : []),
        ].join(' AND ');
        const rows: {
          workflowId: string;
          status: string;
          stage: string | undefined;
          model: string | undefined;
          sha256: string | undefined;
          started: string;
          link: string;
        }[] = [];
        for await (const wf of client.workflow.list({ query })) {
          rows.push({
            workflowId: wf.workflowId,
            status: wf.status.name,
            stage: wf.typedSearchAttributes.get(searchAttributeKeys.exportStage),
            model: wf.typedSearchAttributes.get(searchAttributeKeys.modelName),
            sha256: wf.typedSearchAttributes.get(searchAttributeKeys.onnxSha256),
            started: wf.startTime.toISOString(),
            link: workflowUiLink(config, wf.workflowId, wf.runId),
          });
          if (rows.length >= Number(opts.limit)) break;
        }
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          return;
        }
        if (rows.length === 0) process.stdout.write('no exports\n');
        for (const r of rows) {
          process.stdout.write(
            `${r.started}  ${r.status.padEnd(10)} ${(r.stage ?? '').padEnd(16)} ${r.workflowId}${r.sha256 ? `  ${r.sha256.slice(0, 12)}` : ''}\n    ${r.link}\n`,
          );
        }
      });
    });
}
