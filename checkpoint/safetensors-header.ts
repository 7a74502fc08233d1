/**
 * Parsing and validation of a safetensors header, given its bytes and the file size. Pure: it never
 * touches the file and never sees tensor data. It refuses anything it does not fully understand:
 * non-JSON, unknown dtypes or fields, byte ranges that disagree with shape × dtype, ranges outside
 * the file, overlaps, holes and trailing bytes.
 */
import { CheckpointError, formatShape } from './checkpoint-error';
import { isSafetensorsDtype, SAFETENSORS_DTYPES, type SafetensorsDtype } from './safetensors-dtypes';

/** Bytes of the little-endian u64 header length that starts every safetensors file. */
export const HEADER_LENGTH_BYTES = 8;
/**
 * Largest header we allocate for: the reference implementation's own limit (100 MB). A checkpoint with
 * a million tensors needs about 100 bytes each; anything larger is corruption or an attack.
 */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Absolute byte offset of the tensor's data in the file. */
  readonly offset: number;
  readonly length: number;
}

export interface SafetensorsHeader {
  /** Tensors in file order (ascending offset). */
  readonly tensors: readonly TensorEntry[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Absolute offset of the data section (8 + header length). */
  readonly dataStart: number;
}

/** Reads and bounds-checks the header length prefix; refuses sizes before anything is allocated. */
export function parseHeaderLength(prefix: Buffer, file: string, fileSize: number): number {
  if (fileSize < HEADER_LENGTH_BYTES || prefix.length < HEADER_LENGTH_BYTES) {
    throw new CheckpointError(
      {
        file,
        subject: 'header length',
        expected: `at least ${HEADER_LENGTH_BYTES} bytes of file`,
        actual: `${fileSize} bytes`,
      },
      'file is truncated',
    );
  }
  const length = prefix.readBigUInt64LE(0);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError({
      file,
      subject: 'header length',
      expected: `at most ${MAX_HEADER_BYTES} bytes`,
      actual: `${length} bytes`,
    });
  }
  const n = Number(length);
  if (n > fileSize - HEADER_LENGTH_BYTES) {
    throw new CheckpointError(
      {
        file,
        subject: 'header length',
        expected: `at most ${fileSize - HEADER_LENGTH_BYTES} bytes (file size ${fileSize})`,
        actual: `${n} bytes`,
      },
      'header runs past the end of the file',
    );
  }
  if (n < 2) {
    throw new CheckpointError({
      file,
      subject: 'header length',
      expected: 'at least 2 bytes ("{}")',
      actual: `${n} bytes`,
    });
  }
  return n;
}

/** Parses the JSON header and validates every entry against the file's size. */
export function parseHeader(json: Buffer, file: string, fileSize: number): SafetensorsHeader {
  const dataStart = HEADER_LENGTH_BYTES + json.length;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch (err) {
    throw new CheckpointError(
      { file, subject: 'header', expected: 'a JSON object', actual: 'invalid JSON' },
      (err as Error).message,
    );
  }
  if (!isPlainObject(parsed)) {
    throw new CheckpointError({ file, subject: 'header', expected: 'a JSON object', actual: describe(parsed) });
  }
  let metadata: Record<string, string> = {};
  const tensors: TensorEntry[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    if (name === '__metadata__') metadata = parseMetadata(value, file);
    else tensors.push(parseEntry(name, value, file, dataStart));
  }
  checkLayout(tensors, file, fileSize, dataStart);
  return { tensors, metadata, dataStart };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new CheckpointError({
      file,
      subject: '__metadata__',
      expected: 'an object of strings',
      actual: describe(value),
    });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new CheckpointError({ file, subject: `__metadata__.${k}`, expected: 'a string', actual: describe(v) });
    }
    out[k] = v;
  }
  return out;
}

const ENTRY_FIELDS = new Set(['dtype', 'shape', 'data_offsets']);

function parseEntry(name: string, value: unknown, file: string, dataStart: number): TensorEntry {
  const subject = `tensor '${name}'`;
  if (!isPlainObject(value)) {
    throw new CheckpointError({
      file,
      subject,
      expected: 'an object {dtype, shape, data_offsets}',
      actual: describe(value),
    });
  }
  for (const key of Object.keys(value)) {
    if (!ENTRY_FIELDS.has(key)) {
      throw new CheckpointError({
        file,
        subject: `${subject}.${key}`,
        expected: 'only dtype, shape, data_offsets',
        actual: `unknown field '${key}'`,
      });
    }
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string' || !isSafetensorsDtype(dtype)) {
    throw new CheckpointError({
      file,
      subject: `${subject}.dtype`,
      expected: `one of ${Object.keys(SAFETENSORS_DTYPES).join(', ')}`,
      actual: JSON.stringify(dtype),
    });
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw new CheckpointError({
      file,
      subject: `${subject}.shape`,
      expected: 'an array of non-negative integers',
      actual: JSON.stringify(shape),
    });
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every(isIndex) ||
    (offsets[0] as number) > (offsets[1] as number)
  ) {
    throw new CheckpointError({
      file,
      subject: `${subject}.data_offsets`,
      expected: '[begin, end] with 0 <= begin <= end',
      actual: JSON.stringify(offsets),
    });
  }
  const [begin, end] = offsets as [number, number];
  const elements = shape.reduce((a: number, b: number) => a * b, 1);
  const expectedBytes = elements * SAFETENSORS_DTYPES[dtype].bytes;
  if (!Number.isSafeInteger(expectedBytes) || expectedBytes !== end - begin) {
    throw new CheckpointError(
      {
        file,
        subject: `${subject}.data_offsets`,
        expected: `${expectedBytes} bytes (${dtype} ${formatShape(shape)})`,
        actual: `${end - begin} bytes [${begin}, ${end}]`,
      },
      'byte range does not match shape × dtype',
    );
  }
  return { name, dtype, shape: [...shape], offset: dataStart + begin, length: end - begin };
}

/** Ranges sorted by offset must tile the data section exactly: no overlap, no hole, nothing past the end. */
function checkLayout(tensors: TensorEntry[], file: string, fileSize: number, dataStart: number): void {
  tensors.sort((a, b) => a.offset - b.offset || a.length - b.length || (a.name < b.name ? -1 : 1));
  let cursor = dataStart;
  let previous: TensorEntry | undefined;
  for (const t of tensors) {
    const rel = (n: number) => n - dataStart;
    if (t.offset + t.length > fileSize) {
      throw new CheckpointError(
        {
          file,
          subject: `tensor '${t.name}'.data_offsets`,
          expected: `end <= ${fileSize - dataStart} (data section size)`,
          actual: `end ${rel(t.offset + t.length)}`,
        },
        'range runs past the end of the file',
      );
    }
    if (t.offset < cursor) {
      throw new CheckpointError(
        {
          file,
          subject: `tensor '${t.name}'.data_offsets`,
          expected: `begin >= ${rel(cursor)} (end of '${previous?.name ?? ''}')`,
          actual: `begin ${rel(t.offset)}`,
        },
        `overlaps tensor '${previous?.name ?? ''}'`,
      );
    }
    if (t.offset > cursor) {
      throw new CheckpointError(
        {
          file,
          subject: `tensor '${t.name}'.data_offsets`,
          expected: `begin ${rel(cursor)}`,
          actual: `begin ${rel(t.offset)}`,
        },
        `hole of ${t.offset - cursor} bytes before this tensor`,
      );
    }
    cursor = t.offset + t.length;
    previous = t;
  }
  if (cursor !== fileSize) {
    throw new CheckpointError(
      {
        file,
        subject: 'data section',
        expected: `${cursor - dataStart} bytes (sum of tensors)`,
        actual: `${fileSize - dataStart} bytes`,
      },
      'trailing bytes after the last tensor',
    );
  }
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? JSON.stringify(v) : typeof v;
}
