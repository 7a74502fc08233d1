/**
 * The central directory of a zip archive as `torch.save` writes it: entry names and where each
 * entry's bytes lie in the file, by positioned reads of the directory and of the local headers of
 * the entries asked for (a checkpoint's optimizer state has twice as many entries as its weights).
 * torch stores every entry uncompressed (and pads them to an alignment), so an entry is a plain file
 * range; a compressed or encrypted entry is refused by name, and so is anything that does not fit in
 * the file (a truncated archive loses its end-of-directory record first). Zip64 is read (archives
 * over 4 GiB). It must not read entry data (callers read ranges), decompress, or know what torch
 * puts in the entries.
 */
import { readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { CheckpointError } from './checkpoint-error';
import { fileSize, SYNC_READ_MAX_BYTES } from './file-ranges';

/** One stored entry: its bytes are [offset, offset + size) of the archive file. */
export interface ZipEntry {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}

const SIG = {
  endOfDirectory: 0x06054b50,
  zip64Locator: 0x07064b50,
  zip64End: 0x06064b50,
  directoryEntry: 0x02014b50,
  localHeader: 0x04034b50,
} as const;
const END_OF_DIRECTORY_BYTES = 22;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_END_BYTES = 56;
const DIRECTORY_ENTRY_BYTES = 46;
const LOCAL_HEADER_BYTES = 30;
const MAX_COMMENT_BYTES = 0xffff;
const ZIP64_EXTRA_ID = 0x0001;
const ENCRYPTED_FLAG = 0x0001;
const STORED = 0;
/** A 16- or 32-bit field at its maximum: the real value is in the zip64 record or extra field. */
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
/**
 * Largest central directory we allocate for: about 80 bytes per entry, so a million storages. A
 * checkpoint has one entry per storage (a few thousand for the largest models we export).
 */
export const MAX_DIRECTORY_BYTES = 80 * 1024 * 1024;

type Handle = Awaited<ReturnType<typeof open>>;

export class ZipArchive {
  private readonly byName: ReadonlyMap<string, DirectoryRecord>;

  private constructor(
    readonly path: string,
    readonly size: number,
    private readonly records: readonly DirectoryRecord[],
    /** Where the central directory starts: no entry's data may reach past it. */
    private readonly dataEnd: number,
  ) {
    this.byName = new Map(records.map((r) => [r.name, r]));
  }

  /** Reads the central directory; refuses a compressed, encrypted or cut archive. Reads no local header yet. */
  static async open(path: string): Promise<ZipArchive> {
    const size = await fileSize(path);
    const handle = await open(path, 'r');
    try {
      const reader = new RangeReader(handle, path, size);
      const { records, start } = await readDirectory(reader);
      for (const record of records) checkStored(reader, record);
      return new ZipArchive(path, size, records, start);
    } finally {
      await handle.close();
    }
  }

  get names(): string[] {
    return this.records.map((r) => r.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The data ranges of these entries (each must exist), from their local headers, by name. */
  async locate(names: Iterable<string>): Promise<Map<string, ZipEntry>> {
    const wanted = [...new Set(names)].map((n) => {
      const record = this.byName.get(n);
      if (record === undefined) throw new Error(`zip: no entry '${n}'`);
      return record;
    });
    const out = new Map<string, ZipEntry>();
    if (wanted.length === 0) return out;
    const handle = await open(this.path, 'r');
    try {
      const reader = new RangeReader(handle, this.path, this.size);
      for (const r of wanted.sort((a, b) => a.headerOffset - b.headerOffset)) {
        out.set(r.name, await locateData(reader, r, this.dataEnd));
      }
    } finally {
      await handle.close();
    }
    return out;
  }
}

/** A central directory record, before its local header is read. */
interface DirectoryRecord {
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly headerOffset: number;
}

/** Positioned reads that refuse a range past the file's end as truncation, naming what was read. */
class RangeReader {
  constructor(
    private readonly handle: Handle,
    readonly label: string,
    readonly size: number,
  ) {}

  fail(subject: string, detail: string, expected?: string, actual?: string): never {
    throw new CheckpointError(
      {
        file: this.label,
        subject,
        ...(expected !== undefined ? { expected } : {}),
        ...(actual !== undefined ? { actual } : {}),
      },
      detail,
    );
  }

  async read(offset: number, length: number, subject: string): Promise<Buffer> {
    if (offset < 0 || offset + length > this.size) {
      this.fail(
        subject,
        'the archive is truncated',
        `bytes [${offset}, ${offset + length})`,
        `a file of ${this.size} bytes`,
      );
    }
    const buffer = Buffer.alloc(length);
    const sync = length <= SYNC_READ_MAX_BYTES;
    let done = 0;
    while (done < length) {
      const bytesRead = sync
        ? readSync(this.handle.fd, buffer, done, length - done, offset + done)
        : (await this.handle.read(buffer, done, length - done, offset + done)).bytesRead;
      if (bytesRead === 0) this.fail(subject, 'the archive is truncated (the file shrank while read)');
      done += bytesRead;
    }
    return buffer;
  }
}

/** The directory's records, and where the directory starts (no entry's data may reach past it). */
async function readDirectory(reader: RangeReader): Promise<{ records: DirectoryRecord[]; start: number }> {
  const tail = Math.min(reader.size, END_OF_DIRECTORY_BYTES + MAX_COMMENT_BYTES);
  const bytes = await reader.read(reader.size - tail, tail, 'end of central directory');
  let at = -1;
  for (let i = bytes.length - END_OF_DIRECTORY_BYTES; i >= 0; i--) {
    if (bytes.readUInt32LE(i) === SIG.endOfDirectory) {
      at = i;
      break;
    }
  }
  if (at < 0) {
    reader.fail(
      'end of central directory',
      'not found: the archive is truncated, or not a zip archive (torch.save writes one since torch 1.6; ' +
        'its older format is not read)',
    );
  }
  const eocdOffset = reader.size - tail + at;
  let count = bytes.readUInt16LE(at + 10);
  let dirSize = bytes.readUInt32LE(at + 12);
  let dirOffset = bytes.readUInt32LE(at + 16);
  let endOfData = eocdOffset;
  if (count === U16_MAX || dirSize === U32_MAX || dirOffset === U32_MAX) {
    const locator = await reader.read(eocdOffset - ZIP64_LOCATOR_BYTES, ZIP64_LOCATOR_BYTES, 'zip64 locator');
    if (locator.readUInt32LE(0) !== SIG.zip64Locator) reader.fail('zip64 locator', 'missing');
    const zip64Offset = u64(locator, 8, reader, 'zip64 locator');
    const record = await reader.read(zip64Offset, ZIP64_END_BYTES, 'zip64 end of central directory');
    if (record.readUInt32LE(0) !== SIG.zip64End) reader.fail('zip64 end of central directory', 'bad signature');
    count = u64(record, 32, reader, 'zip64 entry count');
    dirSize = u64(record, 40, reader, 'zip64 directory size');
    dirOffset = u64(record, 48, reader, 'zip64 directory offset');
    endOfData = zip64Offset;
  }
  if (dirSize > MAX_DIRECTORY_BYTES) {
    reader.fail('central directory', 'too large', `at most ${MAX_DIRECTORY_BYTES} bytes`, `${dirSize} bytes`);
  }
  if (dirOffset + dirSize > endOfData) {
    reader.fail(
      'central directory',
      'the archive is truncated or corrupt',
      `to end by byte ${endOfData}`,
      `[${dirOffset}, ${dirOffset + dirSize})`,
    );
  }
  const dir = await reader.read(dirOffset, dirSize, 'central directory');
  const records: DirectoryRecord[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + DIRECTORY_ENTRY_BYTES > dir.length || dir.readUInt32LE(p) !== SIG.directoryEntry) {
      reader.fail('central directory', `entry ${i} of ${count} is not a directory record`);
    }
    const nameLength = dir.readUInt16LE(p + 28);
    const extraLength = dir.readUInt16LE(p + 30);
    const commentLength = dir.readUInt16LE(p + 32);
    const next = p + DIRECTORY_ENTRY_BYTES + nameLength + extraLength + commentLength;
    if (next > dir.length) reader.fail('central directory', `entry ${i} of ${count} runs past the directory`);
    const name = dir.toString('utf8', p + DIRECTORY_ENTRY_BYTES, p + DIRECTORY_ENTRY_BYTES + nameLength);
    const extra = dir.subarray(
      p + DIRECTORY_ENTRY_BYTES + nameLength,
      p + DIRECTORY_ENTRY_BYTES + nameLength + extraLength,
    );
    const wide = zip64Values(extra, reader, name);
    let size = dir.readUInt32LE(p + 24);
    let compressedSize = dir.readUInt32LE(p + 20);
    let headerOffset = dir.readUInt32LE(p + 42);
    if (size === U32_MAX) size = wide.shift() ?? size;
    if (compressedSize === U32_MAX) compressedSize = wide.shift() ?? compressedSize;
    if (headerOffset === U32_MAX) headerOffset = wide.shift() ?? headerOffset;
    records.push({
      name,
      flags: dir.readUInt16LE(p + 8),
      method: dir.readUInt16LE(p + 10),
      compressedSize,
      size,
      headerOffset,
    });
    p = next;
  }
  return { records, start: dirOffset };
}

/** The zip64 extra field's 64-bit values, in the order the directory record's maxed fields use them. */
function zip64Values(extra: Buffer, reader: RangeReader, name: string): number[] {
  for (let p = 0; p + 4 <= extra.length;) {
    const id = extra.readUInt16LE(p);
    const length = extra.readUInt16LE(p + 2);
    if (id === ZIP64_EXTRA_ID) {
      const values: number[] = [];
      for (let q = p + 4; q + 8 <= p + 4 + length && q + 8 <= extra.length; q += 8) {
        values.push(u64(extra, q, reader, `zip entry '${name}'`));
      }
      return values;
    }
    p += 4 + length;
  }
  return [];
}

/** A little-endian u64 that must be a safe integer (a file offset or size). */
function u64(bytes: Buffer, at: number, reader: RangeReader, subject: string): number {
  const value = bytes.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) reader.fail(subject, 'corrupt', 'a file offset or size', `${value}`);
  return Number(value);
}

/** Refuses an entry that is compressed, encrypted, or whose sizes disagree. */
function checkStored(reader: RangeReader, r: DirectoryRecord): void {
  const subject = `zip entry '${r.name}'`;
  if (r.flags & ENCRYPTED_FLAG) reader.fail(subject, 'encrypted: torch.save never encrypts its entries');
  if (r.method !== STORED) {
    reader.fail(subject, `compressed (method ${r.method}): torch.save stores its entries uncompressed`);
  }
  if (r.compressedSize !== r.size) {
    reader.fail(subject, 'corrupt', `stored size ${r.size}`, `${r.compressedSize} bytes in the archive`);
  }
}

/** The entry's data range, from its local header; refuses a range past the archive's data. */
async function locateData(reader: RangeReader, r: DirectoryRecord, end: number): Promise<ZipEntry> {
  const subject = `zip entry '${r.name}'`;
  const header = await reader.read(r.headerOffset, LOCAL_HEADER_BYTES, `${subject} local header`);
  if (header.readUInt32LE(0) !== SIG.localHeader) reader.fail(`${subject} local header`, 'bad signature');
  const offset = r.headerOffset + LOCAL_HEADER_BYTES + header.readUInt16LE(26) + header.readUInt16LE(28);
  if (offset + r.size > end) {
    reader.fail(
      subject,
      'the archive is truncated or corrupt',
      `data to end by byte ${end}`,
      `[${offset}, ${offset + r.size})`,
    );
  }
  return { name: r.name, offset, size: r.size };
}
