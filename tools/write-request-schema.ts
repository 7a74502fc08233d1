/**
 * Writes docs/export-request.schema.json from common/export-request.ts, for Python and Go callers
 * (`npm run schema`, from the repository root). A unit test fails when the committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportRequestJsonSchema } from '../common/export-request';

export const EXPORT_REQUEST_SCHEMA_PATH = 'docs/export-request.schema.json';

export function renderExportRequestSchema(): string {
  return `${JSON.stringify(exportRequestJsonSchema(), null, 2)}\n`;
}

if (require.main === module) {
  const target = join(process.cwd(), EXPORT_REQUEST_SCHEMA_PATH);
  writeFileSync(target, renderExportRequestSchema());
  console.log(`wrote ${target}`);
}
