import type { Command } from 'commander';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { LEGACY_STAGES, type LegacyStage, type PromoteRequest, type PromotionResult } from '../../common/promotion';
import { withTemporalClient, workflowUiLink } from '../../temporal/connect';
import { startPromotion } from '../promote-starter';

interface PromoteOptions {
  to: string;
  legacyStage?: string;
  maxP95Ms?: string;
  maxMae?: string;
  json?: boolean;
}

/** A number option as given: `--max-mae abc` is an error that quotes it, not NaN. */
function numberOption(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`${name}: expected a number, got '${raw}'`);
  return n;
}

function formatPromotion(r: PromotionResult, link: string): string {
  const lines = [
    `promoted ${r.modelName} v${r.version} (${r.workflowId})`,
    `  @${r.alias.alias}: ${r.alias.previousVersion ? `v${r.alias.previousVersion}` : 'unset'} → v${r.version}${r.alias.changed ? '' : ' (already)'}`,
  ];
  if (r.stage)
    lines.push(
      `  stage ${r.stage.stage}: v${r.version} (was ${r.stage.previousStage ?? 'None'})${r.stage.changed ? '' : ' (already)'}` +
        `${r.stage.archived.length ? `, archived ${r.stage.archived.map((v) => `v${v}`).join(', ')}` : ''}`,
    );
  for (const c of r.check.checks) lines.push(`  gate ${c.gate} ≤ ${c.limit}: recorded ${c.recorded} (${c.tag}) ok`);
  if (r.check.checks.length === 0) lines.push('  no gates checked');
  lines.push(`  resolves: ${r.modelUris.join(', ')}`, `  Web UI: ${link}`);
  return lines.join('\n');
}

/** `promote`: gates, then alias (and legacy stage) moves, as one audited workflow. */
export function register(program: Command): void {
  program
    .command('promote')
    .description('promote a registered version to an alias (and legacy stage) if its recorded tags pass the gates')
    .argument('<model-name>', 'registered model name')
    .argument('<version>', 'MLflow version number')
    .requiredOption('--to <alias>', 'alias to point at the version, e.g. production')
    .option('--legacy-stage <stage>', `also move it to this stage (${LEGACY_STAGES.join('|')}), archiving the previous`)
    .option('--max-p95-ms <n>', 'refuse unless tag cpu_p95_ms is at most n')
    .option('--max-mae <x>', 'refuse unless tag parity_mean_abs_error is at most x')
    .option('--json', 'print JSON')
    .action(async (modelName: string, version: string, opts: PromoteOptions) => {
      if (opts.legacyStage !== undefined && !(LEGACY_STAGES as readonly string[]).includes(opts.legacyStage))
        throw new Error(`--legacy-stage: expected one of ${LEGACY_STAGES.join(', ')}, got '${opts.legacyStage}'`);
      const maxMae = numberOption('--max-mae', opts.maxMae);
      const maxP95Ms = numberOption('--max-p95-ms', opts.maxP95Ms);
      const request: PromoteRequest = {
        modelName,
        version,
        alias: opts.to,
        ...(opts.legacyStage ? { legacyStage: opts.legacyStage as LegacyStage } : {}),
        gates: { ...(maxMae !== undefined ? { maxMae } : {}), ...(maxP95Ms !== undefined ? { maxP95Ms } : {}) },
      };
      await withTemporalClient(async (client, config) => {
        const { handle, workflowId } = await startPromotion(client, request);
        const link = workflowUiLink(config, workflowId);
        try {
          const result = await handle.result();
          process.stdout.write(
            opts.json
              ? `${JSON.stringify({ ok: true, ...result, link }, null, 2)}\n`
              : `${formatPromotion(result, link)}\n`,
          );
        } catch (err) {
          if (!(err instanceof WorkflowFailedError)) throw err;
          // A refusal is the workflow's own failure; a bad version or registry error comes from an activity.
          const cause = err.cause instanceof ActivityFailure ? (err.cause.cause ?? err.cause) : err.cause;
          const failure = cause instanceof ApplicationFailure ? cause : undefined;
          const reason = cause?.message ?? err.message;
          if (opts.json)
            process.stdout.write(
              `${JSON.stringify({ ok: false, workflowId, failureType: failure?.type, reason, details: failure?.details?.[0], link }, null, 2)}\n`,
            );
          process.stderr.write(`promotion ${workflowId} failed: ${reason}\nWeb UI: ${link}\n`);
          process.exitCode = 1;
        }
      });
    });
}
