import type { Command } from 'commander';
import { loadConfig } from '../../config/environment';
import { formatDoctorReport, runDoctor } from '../doctor';

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check that Temporal, MinIO and MLflow are reachable, their versions and what is missing')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const report = await runDoctor(loadConfig());
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDoctorReport(report)}\n`);
      if (!report.ok) process.exitCode = 1;
    });
}
