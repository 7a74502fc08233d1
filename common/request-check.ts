/**
 * Checking a request against its zod schema the way every caller reads the answer: each problem
 * names its field (`benchmark.threads`), what was expected and what came; an unknown field names
 * the closest known one. Imported by workflow code: pure, no I/O.
 */
import { z } from 'zod';
import type { NameRule } from './export-contract';

// No code generation from strings: the same checks in Temporal's workflow sandbox as anywhere.
z.config({ jitless: true });

/** One thing wrong with a request: the field, what was expected and what came, and the line saying so. */
export interface RequestProblem {
  field: string;
  expected: string;
  /** The value as sent (undefined when missing); `text` shows it JSON-quoted and truncated. */
  value: unknown;
  text: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problems: RequestProblem[] };

/** The `error` option of a zod check: the words after "expected" in the problem's line. */
export const expecting = (expected: string) => ({ error: `expected ${expected}` });

/** A string following a name rule (its length and pattern), with the rule's words as the error. */
export function nameSchema(rule: NameRule) {
  return z
    .string(expecting(rule.expected))
    .max(rule.maxLength, expecting(rule.expected))
    .regex(rule.pattern, expecting(rule.expected));
}

/** Checks `raw` against `schema`: the parsed value, or every problem, each naming its field. */
export function checkAgainst<S extends z.ZodType>(schema: S, raw: unknown): Checked<z.infer<S>> {
  const parsed = schema.safeParse(raw, { reportInput: true });
  if (parsed.success) return { ok: true, value: parsed.data };
  const problems = parsed.error.issues.flatMap((issue) => describeIssue(schema, issue, raw));
  // A field failing two checks (its pattern and its range) is named once.
  const seen = new Set<string>();
  return { ok: false, problems: problems.filter((p) => !seen.has(p.text) && seen.add(p.text)) };
}

type Issue = z.core.$ZodIssue;

function describeIssue(schema: z.ZodType, issue: Issue, raw: unknown): RequestProblem[] {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(schema, issue.path);
    return issue.keys.map((key) => {
      const field = path ? `${path}.${key}` : key;
      const closest = closestKey(key, known);
      const hint = closest ? `did you mean ${closest}?` : `known fields are ${known.join(', ')}`;
      return { field, expected: `a known field (${hint})`, value: key, text: `${field}: unknown field; ${hint}` };
    });
  }
  const field = path || 'request';
  const value = 'input' in issue ? issue.input : valueAt(raw, issue.path);
  const got = value === undefined ? 'nothing' : truncate(JSON.stringify(value) ?? String(value));
  const expected = issue.message.replace(/^expected /, '');
  return [{ field, expected, value, text: `${field}: expected ${expected}, got ${got}` }];
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const key of path)
    v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}

function knownKeysAt(root: z.ZodType, path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = root;
  for (const key of path) {
    const shape = objectShape(schema);
    const next = shape?.[String(key)];
    if (!next) return [];
    schema = next;
  }
  return Object.keys(objectShape(schema) ?? {});
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  return s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>) : undefined;
}

/** The known field an unknown one most likely meant: same letters ignoring case and separators, a prefix, or a near spelling. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const k = norm(key);
  let best: { name: string; score: number } | undefined;
  for (const name of known) {
    const n = norm(name);
    const score = n === k ? 0 : k.startsWith(n) || n.startsWith(k) ? 1 : editDistance(k, n) + 1;
    if (score <= Math.max(3, Math.ceil(n.length / 3)) && (!best || score < best.score)) best = { name, score };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}
