/**
 * The Python snippets docs/export-contract.md shows are the ones the fixtures run:
 * scripts/fixtures/reference_snippet.py (reference cases; test/integration/heimdall-fixtures.test.ts
 * compares its bytes with the fixtures' own writer) and scripts/fixtures/intermediates_snippet.py
 * (PyTorch's intermediates for `diagnose`), each between its markers. No Python here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findProjectRoot } from '../../config/environment';

const root = findProjectRoot();

function snippetOf(script: string): string {
  const text = readFileSync(join(root, script), 'utf8');
  const start = '# --- snippet start\n';
  return text.slice(text.indexOf(start) + start.length, text.indexOf('# --- snippet end'));
}

function pythonBlocks(): string[] {
  const doc = readFileSync(join(root, 'docs/export-contract.md'), 'utf8');
  return [...doc.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

describe('the Python snippets in docs/export-contract.md', () => {
  it('has the reference-case snippet exactly as scripts/fixtures/reference_snippet.py between its markers', () => {
    const snippet = snippetOf('scripts/fixtures/reference_snippet.py');
    expect(snippet.length).toBeGreaterThan(200);
    expect(pythonBlocks()).toContain(snippet);
  });

  it('has the intermediates snippet exactly as scripts/fixtures/intermediates_snippet.py between its markers', () => {
    const snippet = snippetOf('scripts/fixtures/intermediates_snippet.py');
    expect(snippet).toContain('register_forward_hook');
    expect(pythonBlocks()).toContain(snippet);
  });
});
