/**
 * The Python snippet docs/export-contract.md shows for writing reference cases is the one the
 * fixtures run: scripts/fixtures/reference_snippet.py between its markers (whose bytes
 * test/integration/heimdall-fixtures.test.ts compares with the fixtures' own writer). No Python here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findProjectRoot } from '../../config/environment';

const root = findProjectRoot();

describe('the reference-case snippet in docs/export-contract.md', () => {
  it('is exactly scripts/fixtures/reference_snippet.py between its snippet markers', () => {
    const script = readFileSync(join(root, 'scripts/fixtures/reference_snippet.py'), 'utf8');
    const start = '# --- snippet start\n';
    const snippet = script.slice(script.indexOf(start) + start.length, script.indexOf('# --- snippet end'));
    expect(snippet.length).toBeGreaterThan(200);
    const doc = readFileSync(join(root, 'docs/export-contract.md'), 'utf8');
    const blocks = [...doc.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks).toContain(snippet);
  });
});
