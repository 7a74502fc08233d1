/**
 * Registry provenance (registry/graph-provenance.ts): a version's tags and its MLmodel metadata say
 * whether the graph was emitted or brought, and name the graph's own producer and version.
 */
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderMlmodel } from '../../registry/model-directory';
import { versionTags, validateRegisterInput } from '../../registry/register-model-version';
import { RegistryInputError } from '../../registry/registry-error';

const SHA = 'ab'.repeat(32);
const SIGNATURE = {
  inputs: [{ name: 'receiver_features', dtype: 'float32', shape: [-1, 7, 6] }],
  outputs: [{ name: 'position', dtype: 'float32', shape: [-1, 2] }],
};
const brought = { source: 'brought' as const, producer: { name: 'pytorch', version: '1.13.1' } };
const base = { modelName: 'm', sha256: SHA, source: `s3://models/models/m/${SHA}` };

describe('graph provenance', () => {
  it('tags a brought version with its source and the graph’s producer', () => {
    const tags = Object.fromEntries(versionTags({ ...base, provenance: brought }).map((t) => [t.key, t.value]));
    expect(tags).toMatchObject({
      graph_source: 'brought',
      graph_producer: 'pytorch',
      graph_producer_version: '1.13.1',
    });
  });

  it('tags an emitted version with ours, and leaves out a producer the graph does not record', () => {
    const emitted = { source: 'emitted' as const, producer: { name: 'onnx-export-pipeline', version: '0.2.0' } };
    expect(versionTags({ ...base, provenance: emitted }).filter((t) => t.key.startsWith('graph_'))).toEqual([
      { key: 'graph_source', value: 'emitted' },
      { key: 'graph_producer', value: 'onnx-export-pipeline' },
      { key: 'graph_producer_version', value: '0.2.0' },
    ]);
    const anonymous = { source: 'brought' as const, producer: { name: '', version: '' } };
    expect(versionTags({ ...base, provenance: anonymous }).filter((t) => t.key.startsWith('graph_'))).toEqual([
      { key: 'graph_source', value: 'brought' },
    ]);
    expect(versionTags(base).some((t) => t.key.startsWith('graph_'))).toBe(false);
  });

  it('records the same in the MLmodel metadata', () => {
    const doc = parseYaml(
      renderMlmodel(
        { modelName: 'm', sha256: SHA, bytes: 1, signature: SIGNATURE, provenance: brought },
        new Date(0),
        1,
      ),
    ) as { metadata: Record<string, string> };
    expect(doc.metadata).toMatchObject({
      graph_source: 'brought',
      graph_producer: 'pytorch',
      graph_producer_version: '1.13.1',
    });
  });

  it.each([
    ['provenance.source', { source: 'found', producer: { name: 'x', version: '1' } }],
    ['provenance.producer.name', { source: 'brought', producer: { name: 'bad\nname', version: '1' } }],
    ['provenance.producer.version', { source: 'brought', producer: { name: 'x', version: 'v'.repeat(300) } }],
  ])('refuses a %s it cannot record, naming the field', (field, provenance) => {
    const err = (() => {
      try {
        validateRegisterInput({ ...base, provenance: provenance as never });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(RegistryInputError);
    expect((err as RegistryInputError).field).toBe(field);
  });
});
