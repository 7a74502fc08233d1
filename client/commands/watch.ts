import type { Command } from 'commander';
import type { WorkflowHandle } from '@temporalio/client';
import { plainLine, snapshot, stageLines } from '../export-view';
import { withTemporalClient, workflowUiLink } from '../../temporal/connect';

const POLL_MS = 1_000;

/**
 * Follows an export until it closes: on a terminal, a live stage list with the upload's progress
 * bar, redrawn in place; otherwise one plain line whenever something changes.
 */
export async function watchExport(handle: WorkflowHandle, opts: { tty: boolean }): Promise<string> {
  let lastPlain = '';
  let drawn = 0;
  for (;;) {
    const s = await snapshot(handle);
    if (opts.tty) {
      const lines = [`${s.workflowId}: ${s.status.toLowerCase()}`, ...stageLines(s)];
      if (drawn > 0) process.stdout.write(`\x1b[${drawn}A`);
      process.stdout.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
      drawn = lines.length;
    } else {
      const line = plainLine(s);
      if (line !== lastPlain) process.stdout.write(`${line}\n`);
      lastPlain = line;
    }
    if (s.status !== 'RUNNING') return s.status;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export function register(program: Command): void {
  program
    .command('watch')
    .description('follow an export: stage list and upload progress until it ends')
    .argument('<workflow-id>')
    .action(async (id: string) => {
      await withTemporalClient(async (client, config) => {
        process.stdout.write(`Web UI: ${workflowUiLink(config, id)}\n`);
        const status = await watchExport(client.workflow.getHandle(id), { tty: Boolean(process.stdout.isTTY) });
        if (status !== 'COMPLETED') process.exitCode = 1;
      });
    });
}
