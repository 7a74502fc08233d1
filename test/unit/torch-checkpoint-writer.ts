/**
 * Test helper: torch.save archives written by hand (a stored zip with a pickle built opcode by
 * opcode), so the refusal tests can name any global, opcode or offset without pickling a real
 * callable; and the checkpoints Debian's torch 1.13 writes at test time
 * (scripts/fixtures/make_torch_checkpoints.py). Tests only.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { tempDir } from './checkpoint-safetensors-writer';

export const FIXTURES = join(__dirname, '../../scripts/fixtures');
/** The torch 2.x checkpoints committed with the script that wrote them (CI has no torch 2.x). */
export const TORCH2_FIXTURES = join(FIXTURES, 'data/torch2-checkpoints');
/** Debian's python3-torch (1.13), as CI and the fixtures use it. */
const DEBIAN_PYTHON = '/usr/bin/python3';

/** Runs make_torch_checkpoints.py with Debian's torch 1.13; returns the folder it wrote (`--out`). */
export function torch113(args: readonly string[] = ['--variants']): string {
  const out = tempDir();
  execFileSync(DEBIAN_PYTHON, [join(FIXTURES, 'make_torch_checkpoints.py'), '--out', out, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return out;
}

/** Writes one .pth from a safetensors file with Debian's torch (make_torch_checkpoints.py --from-safetensors). */
export function torch113FromSafetensors(file: string, name: string, args: readonly string[] = []): void {
  execFileSync(
    DEBIAN_PYTHON,
    [join(FIXTURES, 'make_torch_checkpoints.py'), '--from-safetensors', file, '--name', name, ...args],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

export interface ZipEntrySpec {
  readonly name: string;
  readonly data: Uint8Array;
  /** Compression method written in the headers (the data stays as given). */
  readonly method?: number;
  readonly flags?: number;
}

/** A zip archive with every entry stored (as torch writes it, without its alignment padding). */
export function zipArchive(entries: readonly ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const directory: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.flags ?? 0, 6);
    local.writeUInt16LE(e.method ?? 0, 8);
    local.writeUInt32LE(crc32(e.data), 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(e.flags ?? 0, 8);
    central.writeUInt16LE(e.method ?? 0, 10);
    central.writeUInt32LE(crc32(e.data), 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, Buffer.from(e.data));
    directory.push(central, name);
    offset += 30 + name.length + e.data.length;
  }
  const dir = Buffer.concat(directory);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

/** A torch.save archive (`archive/…`) with this data.pkl and these storages, written to a temp file. */
export function writeCheckpoint(
  pickle: Uint8Array,
  storages: Readonly<Record<string, Uint8Array>> = {},
  name = 'best_model.pth',
): string {
  const path = join(tempDir(), name);
  writeFileSync(
    path,
    zipArchive([
      { name: 'archive/data.pkl', data: pickle },
      { name: 'archive/byteorder', data: Buffer.from('little') },
      ...Object.entries(storages).map(([key, data]) => ({ name: `archive/data/${key}`, data })),
      { name: 'archive/version', data: Buffer.from('3\n') },
    ]),
  );
  return path;
}

/** A pickle written opcode by opcode (protocol 2 unless an opcode says otherwise). */
export class Pickle {
  private readonly parts: Buffer[] = [Buffer.from([0x80, 2])];

  private op(...bytes: (number | Buffer)[]): this {
    for (const b of bytes) this.parts.push(typeof b === 'number' ? Buffer.from([b]) : b);
    return this;
  }

  /** BINUNICODE */
  str(s: string): this {
    const bytes = Buffer.from(s, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    return this.op(0x58, length, bytes);
  }
  /** SHORT_BINUNICODE (protocol 4) */
  shortStr(s: string): this {
    const bytes = Buffer.from(s, 'utf8');
    return this.op(0x8c, bytes.length, bytes);
  }
  /** BININT */
  int(n: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    return this.op(0x4a, b);
  }
  /** BINFLOAT */
  float(x: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(x);
    return this.op(0x47, b);
  }
  none(): this {
    return this.op(0x4e);
  }
  bool(v: boolean): this {
    return this.op(v ? 0x88 : 0x89);
  }
  mark(): this {
    return this.op(0x28);
  }
  /** GLOBAL 'module\nname\n' */
  global(module: string, name: string): this {
    return this.op(0x63, Buffer.from(`${module}\n${name}\n`));
  }
  /** STACK_GLOBAL (protocol 4): module and name from the stack. */
  stackGlobal(module: string, name: string): this {
    return this.shortStr(module).shortStr(name).op(0x93);
  }
  /** INST 'module\nname\n': MARK args INST. */
  inst(module: string, name: string): this {
    return this.op(0x69, Buffer.from(`${module}\n${name}\n`));
  }
  /** OBJ: MARK class args OBJ. */
  obj(): this {
    return this.op(0x6f);
  }
  /** NEWOBJ: class args-tuple NEWOBJ. */
  newobj(): this {
    return this.op(0x81);
  }
  reduce(): this {
    return this.op(0x52);
  }
  build(): this {
    return this.op(0x62);
  }
  tuple(): this {
    return this.op(0x74);
  }
  emptyTuple(): this {
    return this.op(0x29);
  }
  tuple1(): this {
    return this.op(0x85);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  emptyList(): this {
    return this.op(0x5d);
  }
  /** DICT (protocol 0): MARK k v … DICT. */
  dict(): this {
    return this.op(0x64);
  }
  setitem(): this {
    return this.op(0x73);
  }
  setitems(): this {
    return this.op(0x75);
  }
  appends(): this {
    return this.op(0x65);
  }
  binpersid(): this {
    return this.op(0x51);
  }
  ext1(code: number): this {
    return this.op(0x82, code);
  }
  stop(): Buffer {
    this.op(0x2e);
    return Buffer.concat(this.parts);
  }

  /** A tuple of ints: MARK ints TUPLE. */
  ints(values: readonly number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }

  /** `_rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, shape, strides, False, OrderedDict())`. */
  tensor(
    storageType: string,
    key: string,
    numel: number,
    shape: readonly number[],
    options: { offset?: number; strides?: readonly number[] } = {},
  ): this {
    const strides = options.strides ?? shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', storageType).str(key).str('cpu').int(numel).tuple().binpersid();
    this.int(options.offset ?? 0)
      .ints(shape)
      .ints(strides)
      .bool(false);
    this.global('collections', 'OrderedDict').emptyTuple().reduce();
    return this.tuple().reduce();
  }
}

/** float32 values as little-endian bytes. */
export function float32Bytes(values: readonly number[]): Buffer {
  return Buffer.from(Float32Array.from(values).buffer);
}
