/**
 * The worker's log records: one JSON object per line when the output is not a terminal (a log
 * collector reads it: docker, systemd, a test), readable text when it is. Used as the SDK Runtime's
 * logger (its own records, workflow and activity `log`, and Core's forwarded records) and for the
 * worker command's own lines, so a worker's output is one format throughout.
 *
 * Metadata is copied field by field: errors become name, message and stack only (an error object can
 * carry request options or a config), and keys that name a secret are redacted.
 */
import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import { LogTimestamp } from '@temporalio/worker';

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
/** Keys whose values are never written, whatever they hold. */
const SECRET_KEY = /secret|password|passwd|token|authorization|credential|access.?key|cookie|api.?key/i;
/** How deep nested metadata is followed; deeper values are summarised (and cycles end here). */
const MAX_DEPTH = 4;

export interface LogRecord {
  time: Date;
  level: LogLevel;
  message: string;
  meta?: LogMetadata | undefined;
}

/** A value as JSON can hold it: errors reduced to name/message/stack, bigints as strings, secrets redacted. */
export function safeValue(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return value;
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      ...(value.stack ? { stack: value.stack } : {}),
      ...(value.cause !== undefined && depth < MAX_DEPTH ? { cause: safeValue(value.cause, depth + 1) } : {}),
    };
  }
  if (depth >= MAX_DEPTH) return Array.isArray(value) ? `[array of ${value.length}]` : '[object]';
  if (Array.isArray(value)) return value.map((v) => safeValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const safe = SECRET_KEY.test(k) ? '[redacted]' : safeValue(v, depth + 1);
    if (safe !== undefined) out[k] = safe;
  }
  return out;
}

/** One JSON line: `{"time", "level", "message", ...meta}`; meta never overrides the first three. */
export function formatJsonLine(record: LogRecord): string {
  const meta = record.meta ? (safeValue(record.meta) as Record<string, unknown>) : {};
  const { time: _t, level: _l, message: _m, ...rest } = meta;
  void _t;
  void _l;
  void _m;
  return `${JSON.stringify({ time: record.time.toISOString(), level: record.level, message: record.message, ...rest })}\n`;
}

/** One readable line for a terminal: `time LEVEL message {meta}`. */
export function formatTextLine(record: LogRecord): string {
  const meta = record.meta ? (safeValue(record.meta) as Record<string, unknown>) : {};
  const tail = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : '';
  return `${record.time.toISOString()} ${record.level.padEnd(5)} ${record.message}${tail}\n`;
}

export interface LineLoggerOptions {
  /** Records below this level are dropped. */
  level?: LogLevel;
  /** JSON lines (true) or text (false). */
  json: boolean;
  write: (line: string) => void;
  now?: () => Date;
}

/** When the SDK forwards a record it carries its own time (nanoseconds since the epoch). */
function recordTime(meta: LogMetadata | undefined, now: () => Date): Date {
  const nanos = (meta as Record<symbol, unknown> | undefined)?.[LogTimestamp];
  return typeof nanos === 'bigint' ? new Date(Number(nanos / 1_000_000n)) : now();
}

/** A Logger (the SDK's interface) writing one line per record. */
export class LineLogger implements Logger {
  private readonly min: number;
  private readonly format: (r: LogRecord) => string;
  private readonly now: () => Date;

  constructor(private readonly options: LineLoggerOptions) {
    this.min = LEVELS.indexOf(options.level ?? 'INFO');
    this.format = options.json ? formatJsonLine : formatTextLine;
    this.now = options.now ?? (() => new Date());
  }

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (LEVELS.indexOf(level) < this.min) return;
    this.options.write(this.format({ time: recordTime(meta, this.now), level, message, meta }));
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
