/**
 * A bundle whose weights are a torch.save checkpoint (models/bundle.ts, models/checkpoint-config.ts):
 * LocalizationNet's `.pth` (written by Debian's torch 1.13 from the small bundle's tensors, with Adam
 * state) emits the same ONNX bytes as its model.safetensors, the checkpoint hash aside, with or
 * without config.json; and every refusal reaches the workflow as a final InvalidInput that names the
 * file and the key (activities/failures.ts), with no stack trace in its message.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { beforeAll, describe, expect, it } from 'vitest';
import { toActivityFailure } from '../../activities/failures';
import { emitBundle } from '../../models';
import { knownNames } from '../../models/architectures';
import { tempDir } from './checkpoint-safetensors-writer';
import { SMALL_BUNDLE } from './models-fixtures';
import { Pickle, torch113, torch113FromSafetensors, writeCheckpoint } from './torch-checkpoint-writer';

const SMALL_WEIGHTS = join(SMALL_BUNDLE, 'model.safetensors');
const SMALL_CONFIG = join(SMALL_BUNDLE, 'config.json');
const REFERENCE = 'reference.safetensors';

/** A bundle folder with the small bundle's reference, this checkpoint as `name`, and config.json if given. */
function bundleOf(checkpoint: string, name = 'best_model.pth', config?: string | object): string {
  const dir = tempDir();
  copyFileSync(checkpoint, join(dir, name));
  copyFileSync(join(SMALL_BUNDLE, REFERENCE), join(dir, REFERENCE));
  if (typeof config === 'string') copyFileSync(config, join(dir, 'config.json'));
  else if (config) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** The small bundle's tensors as a .pth (with `args`: --adam, --config-json, --drop, --reshape). */
function smallPth(args: string[]): string {
  const path = join(tempDir(), 'best_model.pth');
  torch113FromSafetensors(SMALL_WEIGHTS, path, args);
  return path;
}

async function emitted(dir: string): Promise<{ bytes: Buffer; checkpointSha256: string }> {
  const out = join(tempDir(), 'model.onnx');
  const { checkpointSha256 } = await emitBundle(dir, out);
  return { bytes: readFileSync(out), checkpointSha256 };
}

/** The failure the workflow sees for `dir`'s emission: a final InvalidInput; its message. */
async function invalidInput(dir: string): Promise<string> {
  const err = await emitBundle(dir, join(tempDir(), 'model.onnx')).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeDefined();
  const failure = toActivityFailure(err);
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect((failure as ApplicationFailure).type).toBe('InvalidInput');
  expect((failure as ApplicationFailure).nonRetryable).toBe(true);
  expect(failure.message).not.toMatch(/\n\s+at /);
  return failure.message;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let withConfig: string;
let safetensorsOnnx: { bytes: Buffer; checkpointSha256: string };
beforeAll(async () => {
  // The training service's form: weights, Adam state of the same size, and the config as the checkpoint's `config`.
  withConfig = smallPth(['--adam', '--config-json', SMALL_CONFIG]);
  safetensorsOnnx = await emitted(SMALL_BUNDLE);
});

describe('a LocalizationNet .pth emits the same graph as its model.safetensors', () => {
  it.each([
    ['beside config.json', 'best_model.pth', SMALL_CONFIG],
    ['with no config.json: the checkpoint config is the config', 'best_model.pth', undefined],
    ['as a .pt', 'final_model.pt', undefined],
  ])('%s (%s): byte-identical but for the checkpoint hash, which is the file’s', async (_, name, config) => {
    const bundle = bundleOf(withConfig, name, config);
    const { bytes, checkpointSha256 } = await emitted(bundle);
    expect(checkpointSha256).toBe(sha256(join(bundle, name)));
    expect(checkpointSha256).not.toBe(safetensorsOnnx.checkpointSha256);
    expect(bytes.length).toBe(safetensorsOnnx.bytes.length);
    const asSafetensors = Buffer.from(
      bytes.toString('latin1').replace(checkpointSha256, safetensorsOnnx.checkpointSha256),
      'latin1',
    );
    expect(asSafetensors.equals(safetensorsOnnx.bytes)).toBe(true);
    expect(bytes.includes(Buffer.from(checkpointSha256))).toBe(true);
  });
});

describe('a checkpoint bundle is refused as a final InvalidInput naming the file and the key', () => {
  it('a pickle naming os.system (never run)', async () => {
    const pickle = new Pickle()
      .emptyDict()
      .str('model_state_dict')
      .global('os', 'system')
      .str('touch /tmp/ran')
      .tuple1()
      .reduce()
      .setitem()
      .stop();
    const dir = bundleOf(writeCheckpoint(pickle), 'best_model.pth', SMALL_CONFIG);
    expect(await invalidInput(dir)).toMatch(
      new RegExp(`^${join(dir, 'best_model.pth')}: data\\.pkl: global 'os\\.system' is not allowed \\(allowed: `),
    );
  });

  it('a state dict missing a key: the plug-in’s weight check names it', async () => {
    const dir = bundleOf(smallPth(['--drop', 'position_head.0.bias']), 'best_model.pth', SMALL_CONFIG);
    const message = await invalidInput(dir);
    expect(message).toContain(join(dir, 'best_model.pth'));
    expect(message).toContain('position_head.0.bias');
    expect(message).toMatch(/missing/);
  });

  it('a tensor of the wrong shape: the plug-in’s weight check names it and both shapes', async () => {
    const dir = bundleOf(smallPth(['--reshape', 'position_head.0.weight']), 'best_model.pth', SMALL_CONFIG);
    const message = await invalidInput(dir);
    expect(message).toContain(join(dir, 'best_model.pth'));
    expect(message).toMatch(/position_head\.0\.weight: expected \[128, 32\], got \[4096\]/);
  });

  it('an unknown model_architecture, naming the checkpoint field', async () => {
    const dir = bundleOf(join(torch113(), 'unknown_architecture.pth'));
    expect(await invalidInput(dir)).toBe(
      `${join(dir, 'best_model.pth')}: config.model_architecture: expected ${knownNames()}, got "heimdall_net_pro"`,
    );
  });

  it('config.json that disagrees with the checkpoint, naming both', async () => {
    const config = { ...JSON.parse(readFileSync(SMALL_CONFIG, 'utf8')), input_shape: [3, 64, 32] };
    const dir = bundleOf(withConfig, 'best_model.pth', config);
    expect(await invalidInput(dir)).toBe(
      `${join(dir, 'config.json')}: input_shape: config.json and best_model.pth disagree: ` +
        "expected [3,128,32] (best_model.pth's config.input_shape), got [3,64,32]",
    );
  });

  it('a checkpoint field the architecture refuses, named as the checkpoint holds it; no architecture at all', async () => {
    const config = join(tempDir(), 'config.json');
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(SMALL_CONFIG, 'utf8')), input_shape: [4, 128] }));
    const dir = bundleOf(smallPth(['--config-json', config]));
    expect(await invalidInput(dir)).toBe(
      `${join(dir, 'best_model.pth')}: config: input_shape: expected [3, mel_bins, frames], got [4,128]`,
    );
    const bare = bundleOf(smallPth([]));
    expect(await invalidInput(bare)).toBe(
      `${join(bare, 'config.json')}: file: the bundle names no architecture: expected config.json, or a checkpoint ` +
        'whose config (or hyper_parameters) has model_architecture, got a checkpoint without settings',
    );
  });

  it('two weights files, naming both', async () => {
    const dir = bundleOf(withConfig, 'best_model.pth', SMALL_CONFIG);
    copyFileSync(SMALL_WEIGHTS, join(dir, 'model.safetensors'));
    expect(await invalidInput(dir)).toBe(
      `${join(dir, 'model.safetensors')}: the bundle has 2 weights files, best_model.pth and model.safetensors: ` +
        'a graph is emitted from one (remove the others)',
    );
  });
});
