/**
 * The plug-in list and dispatch (models/architectures.ts, models/architecture.ts): config.json's
 * `architecture` picks the descriptor, an unknown one is refused naming the field and the known
 * names, and every listed architecture keeps its promises on the committed small bundle (its
 * signature is what its build produces; its reference cases lead with its batch dimension).
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, openReferenceCases, SafetensorsFile } from '../../checkpoint';
import type { ModelSignature } from '../../common/model-signature';
import {
  ARCHITECTURES,
  architectureNames,
  configureArchitecture,
  defineArchitecture,
  emitBundle,
  loadBundle,
  localizationNet,
} from '../../models';
import { GraphBuilder } from '../../onnx/builder';
import { graphSignature } from '../../onnx/graph-signature';
import { tempDir } from './checkpoint-safetensors-writer';
import { heimdallNetFixtureBundle } from './heimdall-net-fixtures';
import { SMALL_BUNDLE } from './models-fixtures';

const SMALL_CONFIG = {
  architecture: 'LocalizationNet',
  backbone: 'convnext',
  depths: [1, 1, 2, 1],
  dims: [8, 16, 24, 32],
  input_shape: [3, 128, 32],
  uncertainty_min: 0.01,
  uncertainty_max: 1,
};

function refusal(json: unknown): CheckpointError {
  try {
    configureArchitecture(json, 'bundle/config.json');
  } catch (err) {
    expect(err).toBeInstanceOf(CheckpointError);
    return err as CheckpointError;
  }
  throw new Error('config was accepted');
}

describe('the list of architectures', () => {
  it('lists each architecture once, LocalizationNet among them', () => {
    const names = architectureNames();
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('LocalizationNet');
    expect(ARCHITECTURES).toContain(localizationNet);
  });

  it('picks the architecture config.json names and reads its fields with it', () => {
    const configured = configureArchitecture({ ...SMALL_CONFIG, run_id: 'run-3' }, 'bundle/config.json');
    expect(configured.name).toBe('LocalizationNet');
    expect(configured.config).toMatchObject({ backbone: 'convnext', inputShape: [3, 128, 32], runId: 'run-3' });
  });

  it('refuses an unknown architecture, naming the field and the known names', () => {
    const err = refusal({ ...SMALL_CONFIG, architecture: 'ResNet50' });
    expect(err.subject).toBe('architecture');
    expect(err.message).toBe(
      `bundle/config.json: architecture: expected ${architectureNames()
        .map((n) => JSON.stringify(n))
        .join(' or ')}, got "ResNet50"`,
    );
    expect(refusal({ ...SMALL_CONFIG, architecture: undefined }).subject).toBe('architecture');
  });

  it('refuses a field the architecture does not read, listing the ones it does', () => {
    const err = refusal({ ...SMALL_CONFIG, colour: 'red' });
    expect(err.subject).toBe('colour');
    expect(err.expected).toBe(
      'no unknown fields (known: architecture, backbone, depths, dims, input_shape, uncertainty_min, uncertainty_max, run_id)',
    );
  });

  it('refuses a config that is not an object, and a run_id that is not a string', () => {
    expect(refusal([SMALL_CONFIG]).subject).toBe('config');
    expect(refusal({ ...SMALL_CONFIG, run_id: 7 }).subject).toBe('run_id');
  });
});

/**
 * A fixture bundle of each architecture: LocalizationNet's committed small bundle; HeimdallNet's made
 * here (its fixed widths make any bundle megabytes), whose reference holds the graph's own outputs:
 * these tests read its names and shapes only.
 */
const FIXTURES: Readonly<Record<string, () => Promise<string>>> = {
  LocalizationNet: () => Promise.resolve(SMALL_BUNDLE),
  heimdall_net: () => heimdallNetFixtureBundle(),
};

describe.each(ARCHITECTURES.map((a) => [a.name, a] as const))('%s keeps its promises', (name) => {
  let fixture: string | undefined;
  beforeAll(async () => {
    fixture = await FIXTURES[name]?.();
  });

  it('its signature is the built graph’s inputs and outputs, and emission reports the same', async () => {
    if (fixture === undefined) throw new Error(`no fixture bundle for ${name}: add one to this test`);
    const bundle = await loadBundle(fixture);
    const built = bundle.architecture.checkWeights(bundle.weights).build(bundle.weightsSha256, {});
    expect(graphSignature(built.model)).toEqual(bundle.architecture.signature());
    const emitted = await emitBundle(fixture, join(tempDir(), 'model.onnx'));
    expect(emitted).toMatchObject({ source: 'emitted', architecture: name, settings: built.settings });
    expect(emitted.signature).toEqual(bundle.architecture.signature());
  });

  it('its fixture’s reference holds every input and output, leading with the batch', async () => {
    if (fixture === undefined) throw new Error(`no fixture bundle for ${name}: add one to this test`);
    const bundle = await loadBundle(fixture);
    const signature: ModelSignature = bundle.architecture.signature();
    const cases = bundle.architecture.referenceCases();
    // Opening checks every case's tensors against the signature (names, dtypes, fixed dims, one size per symbolic dim).
    const reference = await openReferenceCases(join(fixture, 'reference.safetensors'), signature);
    for (const t of [...signature.inputs, ...signature.outputs]) {
      expect(signature.dims?.[t.name]?.[0]).toBe(cases.batchDim);
      for (const c of reference.cases) {
        const stored = c.tensors.get(t.name);
        expect(stored?.shape.slice(1)).toEqual(t.shape.slice(1).map((d, i) => (d === -1 ? stored?.shape[i + 1] : d)));
      }
    }
    for (const dim of cases.caseDims) expect(JSON.stringify(signature.dims)).toContain(`"${dim}"`);
  });
});

describe('defineArchitecture', () => {
  /** A toy plug-in: one float input scaled by `factor`, weights unused. */
  const toy = defineArchitecture({
    name: 'Toy',
    config: {
      fields: ['factor'],
      parse: (fields, envelope, fail) => {
        if (typeof fields.factor !== 'number') return fail('factor', 'a number', fields.factor);
        return { architecture: envelope.architecture, factor: fields.factor };
      },
    },
    checkWeights: (config) => ({ checkedFactor: config.factor }),
    signature: () => ({
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [-1] }],
      dims: { x: ['n'], y: ['n'] },
    }),
    build: ({ config, checked, weightsSha256 }, options) => {
      const b = new GraphBuilder({ opset: options.opset ?? 17 });
      b.identity('copy', b.input('x', 'float32', ['n']), { output: 'y' });
      b.output('y', 'float32', ['n']);
      return {
        model: b.build({ metadataProps: { checkpoint_sha256: weightsSha256 } }),
        settings: { factor: String(config.factor), checked: String(checked.checkedFactor) },
      };
    },
    referenceCases: () => ({ batchDim: 'n', caseDims: [], description: 'x and y' }),
  });

  it('hands each step the config its parse returned', async () => {
    const configured = toy.configure({ factor: 3 }, { architecture: 'Toy' }, 'toy/config.json');
    expect(configured.config).toEqual({ architecture: 'Toy', factor: 3 });
    const weights = await SafetensorsFile.open(join(SMALL_BUNDLE, 'model.safetensors'));
    const built = configured.checkWeights(weights).build('a'.repeat(64), { opset: 20 });
    expect(built.settings).toEqual({ factor: '3', checked: '3' });
    expect(built.model.opset).toBe(20);
    expect(graphSignature(built.model)).toEqual(configured.signature());
  });

  it("refuses a config field through the descriptor's parse, naming the file and the field", () => {
    expect(() => toy.configure({ factor: 'big' }, { architecture: 'Toy' }, 'toy/config.json')).toThrow(
      'toy/config.json: factor: expected a number, got "big"',
    );
  });
});
