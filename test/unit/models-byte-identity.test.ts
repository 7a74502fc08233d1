/**
 * LocalizationNet's emitted bytes do not change when it moves into its plug-in folder: the hashes
 * below were recorded from the emitter as it was before the move (commit 1181fa9), for three fixed
 * bundles at opsets 14, 17 and 20. The hash is over the file without its producer_version field, so a
 * version bump alone does not fail this test; any other byte that differs does.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONVNEXT_PRESETS, emitBundle, expectedShapes } from '../../models';
import { tempDir } from './checkpoint-safetensors-writer';
import { bundleWith, SMALL_BUNDLE, smallEntries, type Entry, writeSafetensors } from './models-fixtures';

/** ModelProto.producer_version (onnx.proto field 3, a string). */
const PRODUCER_VERSION_FIELD = 3;

function readVarint(bytes: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = at; ; i++) {
    const b = bytes[i] as number;
    value += (b & 127) * scale;
    scale *= 128;
    if (b < 128) return { value, next: i + 1 };
  }
}

/** sha256 of the model file's top-level fields, producer_version left out. */
function sha256WithoutProducerVersion(bytes: Uint8Array): string {
  const hash = createHash('sha256');
  let pos = 0;
  while (pos < bytes.length) {
    const tag = readVarint(bytes, pos);
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    let end: number;
    if (wire === 0) end = readVarint(bytes, tag.next).next;
    else if (wire === 2) {
      const len = readVarint(bytes, tag.next);
      end = len.next + len.value;
    } else throw new Error(`unexpected wire type ${wire} at byte ${pos}`);
    if (field !== PRODUCER_VERSION_FIELD) hash.update(bytes.subarray(pos, end));
    pos = end;
  }
  return hash.digest('hex');
}

/** The small bundle's weights with a config that leaves the layout to the weights, another input size and a run id. */
async function inferredLayoutBundle(): Promise<string> {
  return bundleWith(await smallEntries(), {
    architecture: 'LocalizationNet',
    backbone: 'convnext',
    input_shape: [3, 64, 48],
    uncertainty_min: 0.05,
    uncertainty_max: 2,
    run_id: 'run-7',
  });
}

/** convnext_tiny by its preset name, all weights zero (a sparse file). */
function tinyPresetBundle(): string {
  const dir = tempDir();
  const entries = new Map<string, Entry>();
  for (const [name, shape] of expectedShapes(CONVNEXT_PRESETS.convnext_tiny))
    entries.set(name, { dtype: 'F32', shape });
  writeSafetensors(join(dir, 'model.safetensors'), entries);
  copyFileSync(join(SMALL_BUNDLE, 'reference.safetensors'), join(dir, 'reference.safetensors'));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      architecture: 'LocalizationNet',
      backbone: 'convnext_tiny',
      input_shape: [3, 128, 32],
      uncertainty_min: 0.01,
      uncertainty_max: 1,
    }),
  );
  return dir;
}

const BUNDLES: Record<string, () => Promise<string> | string> = {
  small: () => SMALL_BUNDLE,
  'inferred-layout': inferredLayoutBundle,
  'convnext_tiny-zeros': tinyPresetBundle,
};

/** Recorded before the move: bundle → opset → sha256 of the file without producer_version. */
const RECORDED: Record<string, Record<number, string>> = {
  small: {
    14: '8db955a520968b700c28c72bdfe6dae03621e5a5f69f85cc6bc0d13d2de698a1',
    17: '1ffb67cf1e2823171689e13313fc486bd04624d2e0859e0259d3bf267f8816b3',
    20: '35ba96f2905669b18ab0d200ca90cbb63172874295bf648ccd82b77a4b02180b',
  },
  'inferred-layout': {
    14: 'f3fbcfe4f34e2b263b343e35a0599563eaa6da2b80c3caf90dca1bdd4c58a407',
    17: '5a67f861c710cf7534f8969077ea9ccddc864531c90b4c27601df10cad0d4b2e',
    20: '27cf42007543055e5fcace7cf79e41b463c528a1cfaee3e801e1fdc36574657f',
  },
  'convnext_tiny-zeros': {
    14: 'ad5d7047e1bdbaa90790ff91a4c03de078ddbe9e7b14230767583846b0c221f5',
    17: '44b3d3719aa500b26d719bab58690556500ca272e62e6c7cef5a0b885a393e0b',
    20: '0b19668fadc3d5238333a5e7977f01c3ce78daea88440373c7fa565a84655aba',
  },
};

describe('LocalizationNet emission is byte-identical to before the plug-in move', () => {
  for (const bundle of Object.keys(BUNDLES)) {
    it.each([14, 17, 20])(`${bundle} at opset %i`, async (opset) => {
      const dir = await (BUNDLES[bundle] as () => Promise<string> | string)();
      const out = join(tempDir(), 'model.onnx');
      await emitBundle(dir, out, { opset });
      const bytes = readFileSync(out);
      expect(sha256WithoutProducerVersion(bytes)).toBe(RECORDED[bundle]?.[opset]);
    });
  }
});
