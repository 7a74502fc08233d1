/**
 * checkpoint/torch-checkpoint.ts and the restricted unpickler: checkpoints written by Debian's torch
 * 1.13 (at test time) and by torch 2.15 (committed, scripts/fixtures/data/torch2-checkpoints) read as
 * the same tensors safetensors holds; every refusal names the file and the key. The malicious pickles
 * are written byte by byte (torch-checkpoint-writer.ts): nothing here pickles a real callable.
 */
import { existsSync, readFileSync, truncateSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_GLOBALS, CheckpointError, SafetensorsFile, TorchCheckpointFile, openWeights } from '../../checkpoint';
import { createHash } from 'node:crypto';
import { tempDir } from './checkpoint-safetensors-writer';
import {
  Pickle,
  TORCH2_FIXTURES,
  float32Bytes,
  torch113,
  writeCheckpoint,
  zipArchive,
} from './torch-checkpoint-writer';

let torch113Dir: string;
beforeAll(() => {
  torch113Dir = torch113();
});

/** Every tensor of `checkpoint` equals the safetensors file's: same names, order, dtype, shape and bytes. */
async function expectSameTensors(checkpoint: TorchCheckpointFile, safetensorsPath: string): Promise<void> {
  const reference = await SafetensorsFile.open(safetensorsPath);
  expect(checkpoint.tensors.map((t) => t.name)).toEqual(reference.tensors.map((t) => t.name));
  for (const t of reference.tensors) {
    const got = checkpoint.require(t.name);
    expect({ dtype: got.dtype, shape: got.shape }).toEqual({ dtype: t.dtype, shape: t.shape });
    expect(Buffer.compare(await checkpoint.read(t.name), await reference.read(t.name))).toBe(0);
  }
}

async function refusal(path: string): Promise<CheckpointError> {
  const err = await TorchCheckpointFile.open(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CheckpointError);
  const e = err as CheckpointError;
  expect(e.file).toBe(path);
  expect(e.message).not.toMatch(/\n\s+at /); // no stack trace in the message
  return e;
}

describe.each([
  ['torch 1.13 (Debian)', () => torch113Dir],
  ['torch 2.15', () => TORCH2_FIXTURES],
])('checkpoints written by %s', (_, dir) => {
  it("best_model.pth's form: weights from model_state_dict, settings from config; Adam and scheduler state skipped", async () => {
    const file = await TorchCheckpointFile.open(join(dir(), 'triangulation_model.pth'));
    expect(file.weightsSource).toBe('model_state_dict');
    await expectSameTensors(file, join(dir(), 'triangulation_model.safetensors'));
    expect(file.tensors).toHaveLength(14); // spec 2.2: the optimizer's 42 state tensors are not weights
    expect(file.settings?.source).toBe('config');
    expect(file.settings?.get('model_architecture')).toBe('triangulation_model');
    expect(file.settings?.get('max_receivers')).toBe(7);
    expect(file.settings?.get('batch_size')).toBe(32);
    expect(file.settings?.get('absent')).toBeUndefined();
  });

  it("Lightning's .ckpt: weights from state_dict with the leading 'model.' removed, settings from hyper_parameters", async () => {
    const file = await TorchCheckpointFile.open(join(dir(), 'triangulation_model.ckpt'));
    expect(file.weightsSource).toBe('state_dict');
    await expectSameTensors(file, join(dir(), 'triangulation_model.safetensors'));
    expect(file.settings?.source).toBe('hyper_parameters');
    expect(file.settings?.get('model_architecture')).toBe('triangulation_model');
    expect(file.settings?.get('max_receivers')).toBe(7);
  });
});

describe('TorchCheckpointFile: what torch writes', () => {
  it('a bare state dict (torch.save(model.state_dict())) is the weights', async () => {
    const file = await TorchCheckpointFile.open(join(torch113Dir, 'bare_state_dict.pt'));
    expect(file.weightsSource).toBe('state dict');
    expect(file.settings).toBeUndefined();
    await expectSameTensors(file, join(torch113Dir, 'triangulation_model.safetensors'));
  });

  it('float16 and bfloat16 weights keep their dtype and read as float32 exactly as torch widens them', async () => {
    const file = await TorchCheckpointFile.open(join(torch113Dir, 'half.pth'));
    const widened = await SafetensorsFile.open(join(torch113Dir, 'half_as_float.safetensors'));
    expect(file.tensors.map((t) => [t.name, t.dtype])).toEqual([
      ['half.weight', 'F16'],
      ['bfloat.weight', 'BF16'],
      ['special', 'F16'],
    ]);
    for (const t of widened.tensors) {
      expect(Array.from(await file.readFloat32(t.name))).toEqual(Array.from(await widened.readFloat32(t.name)));
    }
    expect(Array.from(await file.readFloat32('special'))).toEqual([
      0,
      -0,
      65504,
      5.960464477539063e-8,
      Infinity,
      -Infinity,
    ]);
  });

  it('views at a storage offset and rows of a shared storage read as their own bytes (int64 and bool too)', async () => {
    const file = await TorchCheckpointFile.open(join(torch113Dir, 'views.pth'));
    await expectSameTensors(file, join(torch113Dir, 'views.safetensors'));
    const whole = file.require('whole');
    expect(file.require('tail').offset).toBe(whole.offset + 10 * 4);
  });

  it('a hand-written archive: OrderedDict weights, _rebuild_parameter, protocol-4 STACK_GLOBAL of an allowed name', async () => {
    const pickle = new Pickle()
      .emptyDict()
      .mark()
      .str('model_state_dict')
      .stackGlobal('collections', 'OrderedDict')
      .emptyTuple()
      .reduce()
      .mark()
      .str('w')
      .global('torch._utils', '_rebuild_parameter')
      .mark()
      .tensor('FloatStorage', '0', 4, [2, 2])
      .bool(true)
      .global('collections', 'OrderedDict')
      .emptyTuple()
      .reduce()
      .tuple()
      .reduce()
      .setitems()
      .setitems()
      .stop();
    const file = await TorchCheckpointFile.open(writeCheckpoint(pickle, { '0': float32Bytes([1, 2, 3, 4]) }));
    expect(Array.from(await file.readFloat32('w'))).toEqual([1, 2, 3, 4]);
  });

  it("torch 2.x's UntypedStorage (bytes) is a uint8 storage: its views are U8 tensors", async () => {
    const pickle = new Pickle()
      .emptyDict()
      .str('model_state_dict')
      .emptyDict()
      .str('raw')
      .tensor('UntypedStorage', '0', 4, [2], { offset: 2 })
      .setitem()
      .setitem()
      .stop();
    const file = await TorchCheckpointFile.open(writeCheckpoint(pickle, { '0': Buffer.from([1, 2, 3, 4]) }));
    expect(file.require('raw')).toMatchObject({ dtype: 'U8', shape: [2], length: 2 });
    expect([...(await file.read('raw'))]).toEqual([3, 4]);
  });

  it("a Lightning state_dict loses the first 'model.' of each key, as the service's k.replace('model.', '', 1)", async () => {
    const stateDict = (keys: string[]) => {
      const p = new Pickle().emptyDict().str('state_dict').emptyDict().mark();
      keys.forEach((k, i) => p.str(k).tensor('FloatStorage', String(i), 1, [1]));
      return p.setitems().setitem().stop();
    };
    const storages = { '0': float32Bytes([0]), '1': float32Bytes([1]), '2': float32Bytes([2]) };
    const file = await TorchCheckpointFile.open(
      writeCheckpoint(stateDict(['model.a', 'model.model.b', 'loss.model.c']), storages),
    );
    expect(file.tensors.map((t) => t.name)).toEqual(['a', 'model.b', 'loss.c']);
    const path = writeCheckpoint(stateDict(['model.a', 'a']), storages);
    expect((await refusal(path)).message).toBe(
      `${path}: state_dict['a']: with 'model.' removed, two keys name the same tensor: ` +
        "expected a name of its own, got 'a', as state_dict['model.a']",
    );
  });

  it("openWeights: the checkpoint file's sha256, and a NaN in a weight refused naming it (not one in the optimizer state)", async () => {
    const path = join(torch113Dir, 'triangulation_model.pth');
    const { weights, settings, weightsSha256 } = await openWeights(path);
    expect(weights).toBeInstanceOf(TorchCheckpointFile);
    expect(settings?.source).toBe('config');
    expect(await weightsSha256).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));

    const weight = new Pickle()
      .emptyDict()
      .mark()
      .str('model_state_dict')
      .emptyDict()
      .mark()
      .str('ok')
      .tensor('FloatStorage', '0', 2, [2])
      .str('bad')
      .tensor('HalfStorage', '1', 2, [2])
      .setitems()
      .str('optimizer_state_dict')
      .tensor('FloatStorage', '2', 1, [1])
      .setitems()
      .stop();
    const nan16 = Buffer.from([0x00, 0x3c, 0x00, 0x7e]); // 1.0, NaN
    const storages = { '0': float32Bytes([1, 2]), '1': nan16, '2': float32Bytes([NaN]) };
    const bad = await openWeights(writeCheckpoint(weight, storages));
    await expect(bad.weightsSha256).rejects.toThrow(
      /tensor 'bad': expected finite values, got NaN or Inf at element 1/,
    );
    const fine = await openWeights(writeCheckpoint(weight, { ...storages, '1': Buffer.from([0, 0x3c, 0, 0x40]) }));
    await expect(fine.weightsSha256).resolves.toMatch(/^[0-9a-f]{64}$/);
  });
});

/** `{ 'model_state_dict': {}, <key>: <payload> }`: a checkpoint whose extras hold `payload`. */
function withExtra(payload: (p: Pickle) => Pickle): Buffer {
  const p = new Pickle().emptyDict().mark().str('model_state_dict').emptyDict().str('optimizer_state_dict');
  return payload(p).setitems().stop();
}

describe('TorchCheckpointFile: a pickle naming any other global is refused by name, and nothing runs', () => {
  const marker = join(tempDir(), 'ran');
  const command = `touch ${marker}`;
  const cases: [string, string, Buffer][] = [
    ['GLOBAL + REDUCE', 'os.system', withExtra((p) => p.global('os', 'system').str(command).tuple1().reduce())],
    ['builtins.eval', 'builtins.eval', withExtra((p) => p.global('builtins', 'eval').str('1+1').tuple1().reduce())],
    ['STACK_GLOBAL', 'os.system', withExtra((p) => p.stackGlobal('os', 'system').str(command).tuple1().reduce())],
    ['INST', 'os.system', withExtra((p) => p.mark().str(command).inst('os', 'system'))],
    ['OBJ', 'subprocess.Popen', withExtra((p) => p.mark().global('subprocess', 'Popen').str(command).obj())],
    ['NEWOBJ', 'builtins.object', withExtra((p) => p.global('builtins', 'object').emptyTuple().newobj())],
    [
      'BUILD with __setstate__',
      'builtins.getattr',
      withExtra((p) =>
        p.global('collections', 'OrderedDict').emptyTuple().reduce().global('builtins', 'getattr').build(),
      ),
    ],
    [
      'nested in a tensor rebuild',
      'torch._utils._rebuild_tensor',
      withExtra((p) => p.emptyList().mark().mark().global('torch._utils', '_rebuild_tensor').tuple().appends()),
    ],
    ['a storage type not listed', 'torch.DoubleStorage', withExtra((p) => p.tensor('DoubleStorage', '0', 1, [1]))],
    [
      'at the top, before any weights',
      'os.system',
      new Pickle().global('os', 'system').str(command).tuple1().reduce().stop(),
    ],
  ];

  it.each(cases)('%s (%s)', async (_, global, pickle) => {
    const path = writeCheckpoint(pickle);
    const err = await refusal(path);
    expect(err.subject).toBe('data.pkl');
    expect(err.message).toBe(
      `${path}: data.pkl: global '${global}' is not allowed (allowed: ${ALLOWED_GLOBALS.join(', ')}); ` +
        'nothing was imported or run',
    );
    expect(existsSync(marker)).toBe(false);
  });

  it('the allowed list is exactly the dict, tensor and five storage names', () => {
    expect(ALLOWED_GLOBALS).toEqual([
      'collections.OrderedDict',
      'torch._utils._rebuild_tensor_v2',
      'torch._utils._rebuild_parameter',
      'torch.FloatStorage',
      'torch.HalfStorage',
      'torch.BFloat16Storage',
      'torch.LongStorage',
      'torch.BoolStorage',
      'torch.UntypedStorage',
    ]);
  });

  it.each([
    ['an extension code', withExtra((p) => p.ext1(1)), /data\.pkl: extension code 1 is not allowed/],
    [
      'an allowed function called with the wrong arguments',
      withExtra((p) => p.global('torch._utils', '_rebuild_tensor_v2').str('x').tuple1().reduce()),
      /data\.pkl: torch\._utils\._rebuild_tensor_v2: expected 6 or 7 arguments, got 1/,
    ],
    [
      'REDUCE of a value that is no function',
      withExtra((p) => p.str('os.system').emptyTuple().reduce()),
      /data\.pkl: malformed pickle: /,
    ],
    [
      'OBJ of an allowed function (not a class)',
      withExtra((p) => p.mark().global('collections', 'OrderedDict').obj()),
      /data\.pkl: malformed pickle: /,
    ],
    [
      'BUILD that would write onto a tensor',
      withExtra((p) =>
        p.tensor('FloatStorage', '0', 1, [1]).emptyDict().str('storageOffset').int(99).setitem().build(),
      ),
      /data\.pkl: malformed pickle: /,
    ],
    ['a stream cut short', withExtra((p) => p).subarray(0, 20), /data\.pkl: malformed pickle: /],
  ])('refuses %s', async (_, pickle, message) => {
    const err = await refusal(writeCheckpoint(pickle));
    expect(err.message).toMatch(message);
  });
});

describe('TorchCheckpointFile: bad archives and bad views are refused naming the file and the key', () => {
  /** `{'model_state_dict': {'fc.weight': <float tensor>}}` with the given view of storage '0'. */
  function oneWeight(numel: number, shape: number[], options: { offset?: number; strides?: number[] } = {}): Buffer {
    return new Pickle()
      .emptyDict()
      .str('model_state_dict')
      .emptyDict()
      .str('fc.weight')
      .tensor('FloatStorage', '0', numel, shape, options)
      .setitem()
      .setitem()
      .stop();
  }

  it('a truncated archive (its end cut off)', async () => {
    const path = join(tempDir(), 'best_model.pth');
    copyFileSync(join(torch113Dir, 'triangulation_model.pth'), path);
    truncateSync(path, 150_000);
    const err = await refusal(path);
    expect(err.message).toBe(
      `${path}: end of central directory: not found: the archive is truncated, or not a zip archive ` +
        '(torch.save writes one since torch 1.6; its older format is not read)',
    );
  });

  it('an archive whose directory survives but whose data does not', async () => {
    const full = zipArchive([
      { name: 'archive/data.pkl', data: oneWeight(4, [4]) },
      { name: 'archive/data/0', data: float32Bytes([1, 2, 3, 4]) },
    ]);
    const path = join(tempDir(), 'cut.pth');
    // The directory claims the data, but the file was cut inside it and the end record rewritten.
    const end = full.subarray(full.length - 22);
    const directoryAt = end.readUInt32LE(16);
    writeFileSync(path, Buffer.concat([full.subarray(0, directoryAt - 8), full.subarray(directoryAt)]));
    const err = await refusal(path);
    expect(err.message).toMatch(/the archive is truncated/);
  });

  it('a storage offset out of range', async () => {
    const path = writeCheckpoint(oneWeight(4, [2, 2], { offset: 3 }), { '0': float32Bytes([1, 2, 3, 4]) });
    const err = await refusal(path);
    expect(err.subject).toBe("model_state_dict['fc.weight']");
    expect(err.message).toBe(
      `${path}: model_state_dict['fc.weight']: storage offset out of range of storage '0': ` +
        'expected elements within [0, 4), got [3, 7)',
    );
  });

  it('a non-contiguous view, as torch 1.13 saves a transposed weight', async () => {
    const path = join(torch113Dir, 'transposed.pth');
    const err = await refusal(path);
    expect(err.message).toBe(
      `${path}: model_state_dict['linear.weight']: a non-contiguous view (shape [4, 3]): ` +
        'expected strides [3, 1], got [1, 4]',
    );
  });

  it('a storage whose record has another size than its persistent id says, or none', async () => {
    const short = writeCheckpoint(oneWeight(4, [4]), { '0': float32Bytes([1, 2, 3]) });
    expect((await refusal(short)).message).toMatch(
      /model_state_dict\['fc.weight'\]: storage '0' has another size than its persistent id says: expected 4 × 4 bytes, got 12 bytes/,
    );
    const missing = writeCheckpoint(oneWeight(4, [4]));
    expect((await refusal(missing)).message).toMatch(
      /model_state_dict\['fc.weight'\]: its storage is not in the archive: expected archive\/data\/0, got no such entry/,
    );
  });

  it.each([
    [
      'compressed',
      { method: 8 },
      /zip entry 'archive\/data\/0': compressed \(method 8\): torch.save stores its entries uncompressed/,
    ],
    ['encrypted', { flags: 1 }, /zip entry 'archive\/data\/0': encrypted: torch.save never encrypts its entries/],
  ])('a %s entry, by name', async (_, spec, message) => {
    const path = join(tempDir(), 'best_model.pth');
    writeFileSync(
      path,
      zipArchive([
        { name: 'archive/data.pkl', data: oneWeight(4, [4]) },
        { name: 'archive/data/0', data: float32Bytes([1, 2, 3, 4]), ...spec },
      ]),
    );
    expect((await refusal(path)).message).toMatch(message);
  });

  it('a big-endian archive, a file that is no zip, no file, an archive without data.pkl', async () => {
    const big = join(tempDir(), 'big.pth');
    writeFileSync(
      big,
      zipArchive([
        { name: 'archive/data.pkl', data: oneWeight(4, [4]) },
        { name: 'archive/byteorder', data: Buffer.from('big') },
      ]),
    );
    expect((await refusal(big)).message).toBe(`${big}: archive/byteorder: expected little, got big`);

    const notZip = join(tempDir(), 'model.pth');
    copyFileSync(join(torch113Dir, 'triangulation_model.safetensors'), notZip);
    expect((await refusal(notZip)).message).toMatch(/end of central directory: not found/);

    const absent = join(tempDir(), 'absent.pth');
    expect((await refusal(absent)).message).toBe(`${absent}: file: expected a readable file, got ENOENT`);

    const noPickle = join(tempDir(), 'empty.pth');
    writeFileSync(noPickle, zipArchive([{ name: 'archive/version', data: Buffer.from('3') }]));
    expect((await refusal(noPickle)).message).toBe(
      `${noPickle}: zip archive: expected one <root>/data.pkl (a torch.save archive), got none`,
    );
  });

  it('weights that are not tensors, and a dict with no weights at all, naming the keys', async () => {
    const list = new Pickle().emptyDict().str('model_state_dict').emptyDict().str('fc.weight').emptyList();
    const path = writeCheckpoint(list.setitem().setitem().stop());
    expect((await refusal(path)).message).toBe(
      `${path}: model_state_dict['fc.weight']: expected a tensor, got a list or tuple`,
    );
    const other = writeCheckpoint(new Pickle().emptyDict().str('epoch').int(3).setitem().stop());
    expect((await refusal(other)).message).toBe(
      `${other}: weights: expected a dict with 'model_state_dict' (a .pth), 'state_dict' (a Lightning .ckpt) ` +
        "or a state dict of tensors, got a dict with keys 'epoch'",
    );
  });

  it('a protocol-0 DICT (pickleparser writes its keys as properties) is not taken for a dict', async () => {
    const pickle = new Pickle().mark().str('model_state_dict').emptyDict().dict().stop();
    const path = writeCheckpoint(pickle);
    expect((await refusal(path)).message).toBe(`${path}: data.pkl: expected a dict, got an object`);
  });

  it('a setting that is not plain data is refused when read, naming it', async () => {
    const pickle = new Pickle()
      .emptyDict()
      .mark()
      .str('model_state_dict')
      .emptyDict()
      .str('config')
      .emptyDict()
      .str('max_receivers')
      .tensor('LongStorage', '0', 1, [])
      .setitem()
      .setitems()
      .stop();
    const path = writeCheckpoint(pickle, { '0': Buffer.alloc(8) });
    const file = await TorchCheckpointFile.open(path);
    expect(() => file.settings?.get('max_receivers')).toThrow(
      `${path}: config.max_receivers: expected plain data (a string, number, boolean, None, list or dict of them), got a tensor []`,
    );
  });
});
