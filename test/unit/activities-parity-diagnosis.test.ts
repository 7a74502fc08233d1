/**
 * Unit: what the parity stage adds to a miss (activities/parity-diagnosis.ts), with the real
 * diagnose/ on the small LocalizationNet emitted by us and one hidden-layer weight corrupted, its
 * reports saved to a folder instead of the object store. Against the clean graph it names the
 * corrupted layer in one sentence and saves the JSON (URIs, no worker paths) and the plot; a clean
 * graph is `within tolerance`. The baseline is the best there is: the graph the candidate was made
 * from, else PyTorch's intermediates, else our own graph emitted from the bundle's checkpoint.
 * Whatever goes wrong (no baseline, a baseline that cannot be had, the time limit, the store) is
 * said, never thrown.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  chooseDiagnosisBaseline,
  diagnoseParityFailure,
  type BaselineGraph,
  type ParityDiagnosisInput,
} from '../../activities/parity-diagnosis';
import { readFileRange, SafetensorsFile } from '../../checkpoint';
import { emitBundle } from '../../models';
import { tempDir } from './checkpoint-safetensors-writer';
import { seededHiddenWeights, writeCorrupted, type HiddenWeight } from './diagnose-seeded-corruption';
import { SMALL_BUNDLE, writeSafetensors, type Entry } from './models-fixtures';

const CANDIDATE_URI = 's3://models/staging/c0ffee/model.onnx';
const BASELINE_URI = 's3://models/staging/fp32/model.onnx';
const REFERENCE_URI = 's3://checkpoints/bundles/b/reference.safetensors';
const CHECKPOINT_URI = 's3://checkpoints/bundles/b/best_model.pth';

describe('chooseDiagnosisBaseline', () => {
  const graph = (uri: string): BaselineGraph => ({ uri, label: uri, path: async () => uri });
  const fp32 = graph(BASELINE_URI);
  const emitted = graph(CHECKPOINT_URI);

  it.each([
    [
      'the graph the candidate was made from, before everything',
      { baselineGraph: fp32, emittedGraph: emitted, unusedReferenceKeys: ['c/m'] },
      { graph: fp32 },
    ],
    [
      "PyTorch's intermediates before our own emitted graph",
      { emittedGraph: emitted, unusedReferenceKeys: ['c/m'] },
      'reference intermediates',
    ],
    [
      'our own emitted graph when the reference holds no intermediates',
      { emittedGraph: emitted, unusedReferenceKeys: [] },
      { graph: emitted },
    ],
    ['none without any of them', { unusedReferenceKeys: [] }, undefined],
  ] as const)('%s', (_, input, chosen) => {
    expect(chooseDiagnosisBaseline(input)).toEqual(chosen);
  });
});

describe('diagnoseParityFailure', () => {
  const work = tempDir();
  const clean = join(work, 'clean.onnx');
  const corrupted = join(work, 'corrupted.onnx');
  let weight: HiddenWeight;

  beforeAll(async () => {
    await emitBundle(SMALL_BUNDLE, clean);
    [weight] = (await seededHiddenWeights(clean, 1, 4)) as [HiddenWeight];
    await writeCorrupted(clean, corrupted, weight.initializer, 104);
  });

  /** The input of a miss diagnosed against `baseline`; reports go to a fresh folder. */
  function inputFor(candidate: string, baseline: string | undefined, saved = tempDir()): ParityDiagnosisInput {
    return {
      candidate: { path: candidate, uri: CANDIDATE_URI },
      ...(baseline !== undefined
        ? { baselineGraph: { uri: BASELINE_URI, label: 'the fp32 graph', path: async () => baseline } }
        : {}),
      reference: { path: join(SMALL_BUNDLE, 'reference.safetensors'), uri: REFERENCE_URI },
      unusedReferenceKeys: [],
      tolerances: { mae: 1e-5, maxAbs: 1e-4 },
      timeLimitMs: 60_000,
      save: async (name, body) => {
        writeFileSync(join(saved, name), body);
        return `s3://models/staging/c0ffee/${name}`;
      },
    };
  }

  it('against a baseline graph: names the corrupted layer in one sentence and saves the JSON and the plot under URIs', async () => {
    const saved = tempDir();
    const d = await diagnoseParityFailure(inputFor(corrupted, clean, saved));
    expect(d).toMatchObject({
      status: 'diverges',
      baseline: BASELINE_URI,
      baselineKind: 'graph',
      firstDivergence: { modulePath: weight.modulePath, node: weight.node },
      report: {
        json: 's3://models/staging/c0ffee/parity-diagnosis.json',
        svg: 's3://models/staging/c0ffee/parity-diagnosis.svg',
      },
    });
    expect(d.summary).toMatch(
      new RegExp(
        `^first divergence at \`${weight.modulePath}\` \\(\\w+ node \`${weight.node}\`\\), MAE [0-9.]+e[-+]\\d+ > 0\\.00001.*, against the fp32 graph ${BASELINE_URI}; diagnosis report s3://models/staging/c0ffee/parity-diagnosis\\.json$`,
      ),
    );
    const json = readFileSync(join(saved, 'parity-diagnosis.json'), 'utf8');
    expect(JSON.parse(json)).toMatchObject({ candidate: CANDIDATE_URI, baseline: BASELINE_URI });
    expect(json, 'names objects, not the worker-local copies').not.toContain(work);
    expect(readFileSync(join(saved, 'parity-diagnosis.svg'), 'utf8')).toContain(
      `first divergence: ${weight.modulePath}`,
    );
  });

  it('a graph equal to its baseline is within tolerance: the error builds up across layers', async () => {
    const d = await diagnoseParityFailure(inputFor(clean, clean));
    expect(d.status).toBe('within tolerance');
    expect(d.firstDivergence).toBeUndefined();
    expect(d.summary).toMatch(
      /^diagnosis: no intermediate tensor above MAE 0\.00001, max abs 0\.0001 against the fp32 graph/,
    );
  });

  it('no baseline graph and no intermediates in the reference: not possible, saying so', async () => {
    const d = await diagnoseParityFailure(inputFor(corrupted, undefined));
    expect(d).toMatchObject({ status: 'not possible' });
    expect(d.summary).toBe(
      `diagnosis not possible: no baseline: no graph to compare with, and ${REFERENCE_URI} holds no intermediates ('<case>/<module path>' keys of PyTorch's module outputs, docs/export-contract.md)`,
    );
  });

  it('a reference whose unused keys are not intermediates: not possible, naming the reference by its URI', async () => {
    const file = await SafetensorsFile.open(join(SMALL_BUNDLE, 'reference.safetensors'));
    const entries = new Map<string, Entry>();
    for (const t of file.tensors)
      entries.set(t.name, { dtype: t.dtype, shape: t.shape, data: await readFileRange(file.range(t.name)) });
    entries.set('notes', { dtype: 'F32', shape: [1], data: new Uint8Array(4) });
    const withNotes = join(tempDir(), 'reference.safetensors');
    writeSafetensors(withNotes, entries);
    const input = inputFor(corrupted, undefined);
    const d = await diagnoseParityFailure({
      ...input,
      reference: { path: withNotes, uri: REFERENCE_URI },
      unusedReferenceKeys: ['notes'],
    });
    expect(d.status).toBe('not possible');
    expect(d.summary).toBe(
      `diagnosis not possible: none of the keys of ${REFERENCE_URI} that parity did not use (notes) is a module or value of the graph`,
    );
  });

  it('our own emitted graph, when the reference holds no intermediates: named with the checkpoint it was emitted from', async () => {
    const d = await diagnoseParityFailure({
      ...inputFor(corrupted, undefined),
      emittedGraph: { uri: CHECKPOINT_URI, label: 'our own emitted graph of', path: async () => clean },
    });
    expect(d).toMatchObject({
      status: 'diverges',
      baseline: CHECKPOINT_URI,
      baselineKind: 'graph',
      firstDivergence: { modulePath: weight.modulePath },
    });
    expect(d.summary).toContain(`, against our own emitted graph of ${CHECKPOINT_URI}; diagnosis report `);
  });

  it('our own graph that cannot be emitted: not possible, with why, naming the checkpoint by its URI', async () => {
    const bundleDir = join(work, 'bundle');
    const d = await diagnoseParityFailure({
      ...inputFor(corrupted, undefined),
      emittedGraph: {
        uri: CHECKPOINT_URI,
        label: 'our own emitted graph of',
        sources: [{ path: bundleDir, uri: 's3://checkpoints/bundles/b' }],
        path: () => Promise.reject(new Error(`${join(bundleDir, 'best_model.pth')}: architecture 'unet': unknown`)),
      },
    });
    expect(d.status).toBe('not possible');
    expect(d.summary).toBe(
      `diagnosis not possible: the diagnosis against our own emitted graph of ${CHECKPOINT_URI} failed: ${CHECKPOINT_URI}: architecture 'unet': unknown`,
    );
  });

  it('a baseline graph that cannot be fetched: not possible, with why', async () => {
    const input = inputFor(corrupted, undefined);
    const d = await diagnoseParityFailure({
      ...input,
      baselineGraph: {
        uri: BASELINE_URI,
        label: 'the fp32 graph',
        path: () => Promise.reject(new Error('NoSuchKey: staging/fp32/model.onnx')),
      },
    });
    expect(d.status).toBe('not possible');
    expect(d.summary).toBe(
      `diagnosis not possible: the diagnosis against the fp32 graph ${BASELINE_URI} failed: NoSuchKey: staging/fp32/model.onnx`,
    );
  });

  it('past its time limit: not possible, naming the limit; with no time left, not started', async () => {
    const late = await diagnoseParityFailure({ ...inputFor(corrupted, clean), timeLimitMs: 1 });
    expect(late.status).toBe('not possible');
    expect(late.summary).toBe(
      `diagnosis not possible: the diagnosis against the fp32 graph ${BASELINE_URI} did not finish within 0.001 s`,
    );
    let fetched = false;
    const none = await diagnoseParityFailure({
      ...inputFor(corrupted, undefined),
      baselineGraph: { uri: BASELINE_URI, label: 'the fp32 graph', path: async () => ((fetched = true), clean) },
      timeLimitMs: 0,
    });
    expect(none.summary).toBe("diagnosis not possible: no time left for it before the parity stage's own timeout");
    expect(fetched).toBe(false);
  });

  it('a report the store refuses: the finding stays, and the message says the report is not stored', async () => {
    const d = await diagnoseParityFailure({
      ...inputFor(corrupted, clean),
      save: () => Promise.reject(new Error('S3 is down')),
    });
    expect(d.status).toBe('diverges');
    expect(d.report).toBeUndefined();
    expect(d.summary).toMatch(/^first divergence at `.+; the diagnosis report could not be stored: S3 is down$/);
  });
});
