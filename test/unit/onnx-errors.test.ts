/** Unit: onnx/onnx-error.ts, the reader's split of final and transient read failures, and context added on the way up. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OnnxInputError, OnnxIoError, systemErrorCode, transientReadCode } from '../../onnx/onnx-error';
import { ModelReadError, readModel } from '../../onnx/serialize-read';

const dir = mkdtempSync(join(tmpdir(), 'onnx-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A Node system error as fs raises it. */
function systemError(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, ${syscall}`), { code, syscall, errno: -5 });
}

describe('onnx errors', () => {
  it('locatedIn adds the file once, to the message, the context and the stack, and keeps the rest', () => {
    const err = new OnnxInputError('data', { subject: 'model', expected: 'a', actual: 'b' }, 'model is too big');
    const located = err.locatedIn('/out/m.onnx');
    expect(located).toBeInstanceOf(OnnxInputError);
    expect(located).toMatchObject({
      kind: 'data',
      message: '/out/m.onnx: model is too big',
      context: { file: '/out/m.onnx', subject: 'model', expected: 'a', actual: 'b' },
    });
    expect(located.stack).toContain('OnnxInputError: /out/m.onnx: model is too big');
    expect(located.locatedIn('/elsewhere.onnx')).toBe(located);
  });

  it('only system errors have a code; a read is transient only for codes of a system under strain', () => {
    expect(systemErrorCode(systemError('ENOSPC', 'write'))).toBe('ENOSPC');
    expect(systemErrorCode(Object.assign(new Error('x'), { code: 'ERR_SOMETHING' }))).toBeUndefined();
    expect(systemErrorCode('EIO')).toBeUndefined();
    expect(transientReadCode(systemError('EIO', 'read'))).toBe('EIO');
    expect(transientReadCode(systemError('EMFILE', 'open'))).toBe('EMFILE');
    for (const code of ['EISDIR', 'ENOENT', 'EACCES'])
      expect(transientReadCode(systemError(code, 'read'))).toBeUndefined();
  });

  it('OnnxIoError is retryable and keeps its cause; OnnxInputError is final', () => {
    const cause = systemError('EIO', 'read');
    const io = new OnnxIoError({ file: '/m.onnx', code: 'EIO' }, '/m.onnx: EIO', { cause });
    expect(io).toMatchObject({ name: 'OnnxIoError', retryable: true, cause });
    expect(new OnnxInputError('graph', { subject: 'opset' }, 'x')).toMatchObject({
      name: 'OnnxInputError',
      retryable: false,
    });
  });

  it('reading a folder in place of a model stays a final ModelReadError naming it (EISDIR is not transient)', async () => {
    const err = await readModel(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelReadError);
    expect((err as ModelReadError).message).toMatch(new RegExp(`^${dir}: EISDIR`));
  });

  it('a model file that is not there stays a ModelReadError', async () => {
    await expect(readModel(join(dir, 'absent.onnx'))).rejects.toBeInstanceOf(ModelReadError);
  });
});
