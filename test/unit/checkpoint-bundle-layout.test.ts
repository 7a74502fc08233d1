/**
 * The bundle layout (checkpoint/bundle-layout.ts): the kind of bundle decided from file names, the
 * files each kind carries, and every refusal, with the file it names.
 */
import { describe, expect, it } from 'vitest';
import { bundleKind, bundleLayout, type LayoutVerdict } from '../../checkpoint';

function refusal(verdict: LayoutVerdict): { file: string; problem: string } {
  if (!('refusal' in verdict)) throw new Error(`accepted: ${JSON.stringify(verdict.layout)}`);
  return verdict.refusal;
}

function layout(verdict: LayoutVerdict) {
  if ('refusal' in verdict) throw new Error(`refused: ${verdict.refusal.file}: ${verdict.refusal.problem}`);
  return verdict.layout;
}

describe('bundleLayout', () => {
  it('a weights bundle: config, weights, reference, and calibration when present; other files are not its own', () => {
    expect(layout(bundleLayout(['reference.safetensors', 'model.safetensors', 'config.json', 'README.md']))).toEqual({
      kind: 'weights',
      files: ['config.json', 'model.safetensors', 'reference.safetensors'],
    });
    expect(
      layout(bundleLayout(['config.json', 'model.safetensors', 'reference.safetensors', 'calibration.safetensors']))
        .files,
    ).toEqual(['config.json', 'model.safetensors', 'reference.safetensors', 'calibration.safetensors']);
  });

  it('a graph bundle: model.onnx and the reference, calibration when present; a config.json is not read', () => {
    expect(layout(bundleLayout(['model.onnx', 'reference.safetensors', 'model.onnx.data']))).toEqual({
      kind: 'graph',
      files: ['model.onnx', 'reference.safetensors'],
    });
    expect(
      layout(bundleLayout(['model.onnx', 'reference.safetensors', 'calibration.safetensors', 'config.json'])).files,
    ).toEqual(['model.onnx', 'reference.safetensors', 'calibration.safetensors']);
  });

  it('refuses model.onnx together with weights, naming both files', () => {
    const r = refusal(bundleLayout(['model.onnx', 'model.safetensors', 'config.json', 'reference.safetensors']));
    expect(r.file).toBe('model.onnx');
    expect(r.problem).toContain('the bundle has both model.onnx and model.safetensors');
  });

  it('refuses a graph bundle without a reference, naming reference.safetensors', () => {
    const r = refusal(bundleLayout(['model.onnx']));
    expect(r.file).toBe('reference.safetensors');
    expect(r.problem).toMatch(/^the checkpoint bundle has no reference\.safetensors \(/);
    expect(r.problem).toContain('a bundle that brings its own graph needs model.onnx, reference.safetensors');
  });

  it.each([
    ['config.json', ['model.safetensors', 'reference.safetensors']],
    ['model.safetensors', ['config.json', 'reference.safetensors']],
    ['reference.safetensors', ['config.json', 'model.safetensors']],
    ['config.json', []],
    ['config.json', ['README.txt', 'calibration.safetensors']],
  ])('refuses a weights bundle without %s (files: %j), naming it', (missing, names) => {
    const r = refusal(bundleLayout(names));
    expect(r.file).toBe(missing);
    expect(r.problem).toMatch(
      new RegExp(`^the checkpoint bundle has no ${missing.replace('.', '\\.')} \\(a bundle needs config\\.json`),
    );
  });
});

describe('bundleKind', () => {
  it('decides the kind without asking for the reference (offline emission needs none)', () => {
    expect(bundleKind(['model.onnx'])).toEqual({ kind: 'graph' });
    expect(bundleKind(['config.json', 'model.safetensors'])).toEqual({ kind: 'weights' });
    expect(bundleKind([])).toEqual({ kind: 'weights' });
    expect(refusal(bundleKind(['model.onnx', 'model.safetensors']) as LayoutVerdict).file).toBe('model.onnx');
  });
});
