/**
 * The bundle layout (checkpoint/bundle-layout.ts): the kind of bundle decided from file names, the
 * files each kind carries, and every refusal, with the file it names.
 */
import { describe, expect, it } from 'vitest';
import { bundleKind, bundleLayout, weightsFileOf, type LayoutVerdict } from '../../checkpoint';

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

  it('a graph bundle may carry the checkpoint its graph was exported from: fetched with its config.json, named as its checkpoint', () => {
    expect(layout(bundleLayout(['model.onnx', 'model.safetensors', 'config.json', 'reference.safetensors']))).toEqual({
      kind: 'graph',
      files: ['model.onnx', 'reference.safetensors', 'config.json', 'model.safetensors'],
      checkpoint: 'model.safetensors',
    });
    expect(
      layout(bundleLayout(['calibration.safetensors', 'best_model.pth', 'reference.safetensors', 'model.onnx'])),
    ).toEqual({
      kind: 'graph',
      files: ['model.onnx', 'reference.safetensors', 'best_model.pth', 'calibration.safetensors'],
      checkpoint: 'best_model.pth',
    });
  });

  it('refuses a graph bundle with two weights files, naming both and saying one is its checkpoint', () => {
    const r = refusal(bundleLayout(['model.onnx', 'model.safetensors', 'best_model.pth', 'reference.safetensors']));
    expect(r.file).toBe('model.safetensors');
    expect(r.problem).toBe(
      'the bundle has 2 weights files, best_model.pth and model.safetensors: a graph is emitted from one ' +
        '(remove the others); beside model.onnx, one is the checkpoint it was exported from',
    );
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

describe('bundleLayout: a torch checkpoint instead of model.safetensors', () => {
  it.each(['best_model.pth', 'final_model.pt', 'epoch=12-step=480.ckpt'])(
    '%s and the reference are a bundle; config.json and calibration are its own when present',
    (checkpoint) => {
      expect(layout(bundleLayout([checkpoint, 'reference.safetensors', 'notes.txt']))).toEqual({
        kind: 'weights',
        files: [checkpoint, 'reference.safetensors'],
      });
      expect(
        layout(bundleLayout(['calibration.safetensors', 'reference.safetensors', checkpoint, 'config.json'])).files,
      ).toEqual(['config.json', checkpoint, 'reference.safetensors', 'calibration.safetensors']);
    },
  );

  it('refuses a checkpoint without a reference, naming reference.safetensors', () => {
    const r = refusal(bundleLayout(['best_model.pth', 'config.json']));
    expect(r.file).toBe('reference.safetensors');
    expect(r.problem).toContain(
      'or, for model.safetensors, one torch checkpoint *.pth, *.pt, *.ckpt, with config.json optional',
    );
  });

  it.each([
    [['model.safetensors', 'best_model.pth'], 'best_model.pth and model.safetensors'],
    [['best_model.pth', 'epoch_10.pth', 'model.safetensors'], 'best_model.pth and epoch_10.pth and model.safetensors'],
    [['last.ckpt', 'best_model.pth'], 'best_model.pth and last.ckpt'],
  ])('refuses two weights files (%j), naming both', (weights, named) => {
    const r = refusal(bundleLayout([...weights, 'config.json', 'reference.safetensors']));
    expect(weights).toContain(r.file);
    expect(r.problem).toBe(
      `the bundle has ${weights.length} weights files, ${named}: a graph is emitted from one (remove the others)`,
    );
    expect(refusal(weightsFileOf(weights) as LayoutVerdict).problem).toBe(r.problem);
  });

  it("weightsFileOf: the one weights file (a graph bundle's checkpoint too), or the refusal naming model.safetensors when there is none", () => {
    expect(weightsFileOf(['config.json', 'model.safetensors'])).toEqual({ name: 'model.safetensors' });
    expect(weightsFileOf(['best_model.pth'])).toEqual({ name: 'best_model.pth' });
    expect(weightsFileOf(['model.onnx', 'best_model.pth'])).toEqual({ name: 'best_model.pth' });
    expect(refusal(weightsFileOf(['config.json', '.pth']) as LayoutVerdict).file).toBe('model.safetensors');
    expect(refusal(weightsFileOf(['model.onnx', 'config.json']) as LayoutVerdict).file).toBe('model.safetensors');
  });
});

describe('bundleKind', () => {
  it('decides the kind without asking for the reference (offline emission needs none)', () => {
    expect(bundleKind(['model.onnx'])).toEqual({ kind: 'graph' });
    expect(bundleKind(['config.json', 'model.safetensors'])).toEqual({ kind: 'weights' });
    expect(bundleKind([])).toEqual({ kind: 'weights' });
    expect(bundleKind(['model.onnx', 'model.safetensors'])).toEqual({ kind: 'graph' });
    expect(refusal(bundleKind(['model.onnx', 'a.pt', 'b.pt']) as LayoutVerdict).file).toBe('b.pt');
  });
});
