/**
 * A bring-your-own bundle whose graph has one hidden-layer weight corrupted, and whose
 * reference.safetensors holds PyTorch's own intermediates beside its cases: the committed small
 * LocalizationNet (scripts/fixtures/data/localizationnet-small) emitted by us, one seeded hidden
 * weight perturbed (test/unit/diagnose-seeded-corruption.ts), and every module's output from a
 * forward hook on the PyTorch model (scripts/fixtures/intermediates_snippet.py --demo, Debian's
 * torch), written as `<module path>` keys, as a reference of one case holds them.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readFileRange, SafetensorsFile } from '../../../checkpoint';
import { findProjectRoot } from '../../../config/environment';
import { emitBundle } from '../../../models';
import { seededHiddenWeights, writeCorrupted, type HiddenWeight } from '../../unit/diagnose-seeded-corruption';
import { SMALL_BUNDLE, writeSafetensors, type Entry } from '../../unit/models-fixtures';

const run = promisify(execFile);

async function entriesOf(path: string, rename: (key: string) => string = (k) => k): Promise<Map<string, Entry>> {
  const file = await SafetensorsFile.open(path);
  const out = new Map<string, Entry>();
  for (const t of file.tensors)
    out.set(rename(t.name), { dtype: t.dtype, shape: t.shape, data: await readFileRange(file.range(t.name)) });
  return out;
}

/** Makes the bundle in `dir` (model.onnx, reference.safetensors); returns the weight corrupted. */
export async function corruptedGraphBundle(dir: string, seed = 23): Promise<HiddenWeight> {
  mkdirSync(dir, { recursive: true });
  const clean = join(dir, '..', `${seed}-clean.onnx`);
  await emitBundle(SMALL_BUNDLE, clean);
  const [weight] = await seededHiddenWeights(clean, 1, seed);
  if (weight === undefined) throw new Error(`${clean}: no hidden-layer weight`);
  await writeCorrupted(clean, join(dir, 'model.onnx'), weight.initializer, 100 + seed);

  const intermediates = join(dir, '..', `${seed}-intermediates.safetensors`);
  await run(
    '/usr/bin/python3',
    ['-P', join(findProjectRoot(), 'scripts/fixtures/intermediates_snippet.py'), '--demo', SMALL_BUNDLE, intermediates],
    { timeout: 120_000 },
  );
  // The demo writes its one case as `case/<module path>`; beside bare reference keys they go bare too.
  const entries = await entriesOf(join(SMALL_BUNDLE, 'reference.safetensors'));
  for (const [key, entry] of await entriesOf(intermediates, (k) => k.slice(k.indexOf('/') + 1)))
    if (!entries.has(key)) entries.set(key, entry);
  writeSafetensors(join(dir, 'reference.safetensors'), entries);
  return weight;
}
