/**
 * Unit (issue 23's seeded test): for each of the four architectures, a fixture graph emitted from
 * TypeScript-made weights, and ten copies each with one hidden-layer weight perturbed (ten seeded
 * choices). `diagnose corrupted clean`, fed the fixture's reference cases and run in small chunks
 * (several slices per graph), names as the first divergence the node that first computes with that
 * weight, in that weight's module: 10 of 10 for every architecture.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDiagnosis } from '../../diagnose/run-diagnosis';
import { emitBundle } from '../../models';
import { attentionFixtureBundle } from './attention-fixtures';
import { tempDir } from './checkpoint-safetensors-writer';
import { seededHiddenWeights, writeCorrupted } from './diagnose-seeded-corruption';
import { heimdallNetFixtureBundle } from './heimdall-net-fixtures';
import { SMALL_BUNDLE } from './models-fixtures';

const SEEDED_CASES = 10;
/** Small enough that each graph runs as several slices. */
const CHUNK_BYTES = 64 * 1024;

const BUNDLES: Readonly<Record<string, () => Promise<string>>> = {
  LocalizationNet: async () => SMALL_BUNDLE,
  heimdall_net: heimdallNetFixtureBundle,
  triangulation_model: () => attentionFixtureBundle('triangulation_model'),
  iq_resnet18: () => attentionFixtureBundle('iq_resnet18'),
};

describe('diagnose names the layer of one corrupted weight', () => {
  for (const [architecture, bundle] of Object.entries(BUNDLES)) {
    it(`${architecture}: ${SEEDED_CASES} of ${SEEDED_CASES} seeded corruptions`, async () => {
      const dir = await bundle();
      const work = tempDir();
      const clean = join(work, 'clean.onnx');
      await emitBundle(dir, clean);
      const weights = await seededHiddenWeights(clean, SEEDED_CASES, 23);
      const named: string[] = [];
      for (const [i, w] of weights.entries()) {
        const corrupted = join(work, `corrupted-${i}.onnx`);
        await writeCorrupted(clean, corrupted, w.initializer, 100 + i);
        const d = await runDiagnosis(corrupted, clean, {
          reference: join(dir, 'reference.safetensors'),
          maxChunkBytes: CHUNK_BYTES,
        });
        named.push(`${w.initializer}: ${d.firstDivergence?.node} in ${d.firstDivergence?.modulePath}`);
      }
      expect(named).toEqual(weights.map((w) => `${w.initializer}: ${w.node} in ${w.modulePath}`));
      expect(new Set(weights.map((w) => w.initializer)).size).toBe(SEEDED_CASES);
    }, 300_000);
  }
});
