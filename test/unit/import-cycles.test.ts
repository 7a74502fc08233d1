/**
 * Unit: no production module reaches itself through its imports, counting `import type` too.
 * ESLint's import-x/no-cycle skips type-only imports, which is how config/environment.ts and
 * config/service-security.ts once imported each other; this reads the import lines of every room's
 * .ts files (not test/, scripts/, tools/) and lists each cycle's files.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const OUTSIDE_THE_ROOMS = new Set(['node_modules', 'dist', 'test', 'scripts', 'tools', 'bin', 'docs', 'docker']);
const IMPORT = /^\s*(?:import|export)\s+(?:type\s+)?[^'"`]*?from\s+['"](\.[^'"]+)['"]/gm;

function productionFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name.startsWith('.')) return [];
    const path = join(dir, e.name);
    if (e.isDirectory()) return dir === ROOT && OUTSIDE_THE_ROOMS.has(e.name) ? [] : productionFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

function resolveImport(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return existsSync(base) && statSync(base).isFile() ? base : undefined;
}

/** Strongly connected components of more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) as number);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(relative(ROOT, w));
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('import cycles', () => {
  it('no file-level import cycle among the rooms, type-only imports included', () => {
    const files = productionFiles(ROOT);
    expect(files.length).toBeGreaterThan(100);
    const graph = new Map<string, string[]>();
    for (const file of files) {
      const targets = [...readFileSync(file, 'utf8').matchAll(IMPORT)]
        .map((m) => resolveImport(file, m[1] as string))
        .filter((t): t is string => t !== undefined);
      graph.set(file, targets);
    }
    expect(cycles(graph)).toEqual([]);
  });
});
