import { describe, expect, it } from 'vitest';
import { LogTimestamp } from '@temporalio/worker';
import { formatJsonLine, formatTextLine, LineLogger, safeValue } from '../../worker/log-format';

const TIME = new Date('2026-01-02T03:04:05.678Z');

function capture(json: boolean, level?: 'INFO' | 'WARN') {
  const lines: string[] = [];
  const logger = new LineLogger({ json, ...(level ? { level } : {}), write: (l) => lines.push(l), now: () => TIME });
  return { logger, lines };
}

describe('JSON-lines log format', () => {
  it('writes one JSON object per line: time, level, message, then the metadata', () => {
    const line = formatJsonLine({
      time: TIME,
      level: 'INFO',
      message: 'worker polling onnx-export, onnx-export-bench',
      meta: { taskQueues: ['onnx-export'], attempt: 2 },
    });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      time: '2026-01-02T03:04:05.678Z',
      level: 'INFO',
      message: 'worker polling onnx-export, onnx-export-bench',
      taskQueues: ['onnx-export'],
      attempt: 2,
    });
  });

  it('keeps newlines of a message inside the one line', () => {
    const line = formatJsonLine({ time: TIME, level: 'ERROR', message: 'a\nb' });
    expect(line.split('\n')).toHaveLength(2);
    expect(JSON.parse(line).message).toBe('a\nb');
  });

  it('never lets metadata replace time, level or message', () => {
    const parsed = JSON.parse(
      formatJsonLine({ time: TIME, level: 'WARN', message: 'real', meta: { message: 'fake', level: 'X', time: 0 } }),
    );
    expect(parsed).toEqual({ time: TIME.toISOString(), level: 'WARN', message: 'real' });
  });

  it('reduces errors to name, message, stack and cause: no other properties', () => {
    const cause = new Error('socket hang up');
    const err = Object.assign(new Error('upload failed', { cause }), {
      config: { env: { AWS_SECRET_ACCESS_KEY: 'hunter2' } },
    });
    const parsed = JSON.parse(formatJsonLine({ time: TIME, level: 'ERROR', message: 'x', meta: { error: err } }));
    expect(Object.keys(parsed.error).sort()).toEqual(['cause', 'message', 'name', 'stack']);
    expect(parsed.error.cause.message).toBe('socket hang up');
    expect(JSON.stringify(parsed)).not.toContain('hunter2');
  });

  it('redacts keys that name a secret, at any depth', () => {
    const out = safeValue({
      s3: { secretKey: 'k', accessKeyId: 'a', endpoint: 'http://x' },
      token: 't',
      password: 'p',
    });
    expect(out).toEqual({
      s3: { secretKey: '[redacted]', accessKeyId: '[redacted]', endpoint: 'http://x' },
      token: '[redacted]',
      password: '[redacted]',
    });
  });

  it('writes bigints as strings and survives cycles', () => {
    const cyclic: Record<string, unknown> = { n: 1n };
    cyclic.self = cyclic;
    expect(() => formatJsonLine({ time: TIME, level: 'INFO', message: 'c', meta: cyclic })).not.toThrow();
    expect(JSON.parse(formatJsonLine({ time: TIME, level: 'INFO', message: 'c', meta: cyclic })).n).toBe('1');
  });

  it('uses the time the SDK stamped on a forwarded record', () => {
    const { logger, lines } = capture(true);
    logger.info('from core', { [LogTimestamp]: BigInt(Date.UTC(2025, 0, 1)) * 1_000_000n });
    expect(JSON.parse(lines[0] as string).time).toBe('2025-01-01T00:00:00.000Z');
  });

  it('drops records below its level', () => {
    const { logger, lines } = capture(true, 'WARN');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines.map((l) => JSON.parse(l).level)).toEqual(['WARN', 'ERROR']);
  });

  it('writes readable text on a terminal', () => {
    const { logger, lines } = capture(false);
    logger.info('worker polling onnx-export', { namespace: 'default' });
    expect(lines).toEqual(['2026-01-02T03:04:05.678Z INFO  worker polling onnx-export {"namespace":"default"}\n']);
    expect(formatTextLine({ time: TIME, level: 'WARN', message: 'bare' })).toBe(
      '2026-01-02T03:04:05.678Z WARN  bare\n',
    );
  });
});
