/**
 * NaN/Inf detection over raw little-endian float bytes, by bit pattern (an all-ones exponent), so no
 * float conversion happens and the loops stay integer-only. Pure: callers feed chunks, nothing here
 * reads files or allocates per element.
 */
import type { SafetensorsDtype } from './safetensors-dtypes';

/**
 * Index of the first non-finite element in `bytes` (which must hold whole elements of `dtype`), or -1.
 * Non-float dtypes are always finite.
 */
export function findNonFinite(bytes: Uint8Array, dtype: SafetensorsDtype): number {
  switch (dtype) {
    case 'F32': return scanWords32(bytes, 4, 0, 0x7f800000);
    case 'F64': return scanWords32(bytes, 8, 1, 0x7ff00000);
    case 'F16': return scanHalf(bytes, 0x7c00);
    case 'BF16': return scanHalf(bytes, 0x7f80);
    case 'F8_E5M2': return scanBytes(bytes, (b) => (b & 0x7c) === 0x7c);
    case 'F8_E4M3': return scanBytes(bytes, (b) => (b & 0x7f) === 0x7f);
    default: return -1;
  }
}

/** Elements of `stride` bytes whose 32-bit word number `word` (LE) has all `mask` bits set. */
function scanWords32(bytes: Uint8Array, stride: number, word: number, mask: number): number {
  const n = Math.floor(bytes.length / stride);
  if (bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, (n * stride) / 4);
    const step = stride / 4;
    for (let i = word; i < words.length; i += step) {
      if (((words[i] as number) & mask) === mask) return (i - word) / step;
    }
    return -1;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < n; i++) {
    if ((view.getUint32(i * stride + word * 4, true) & mask) === mask) return i;
  }
  return -1;
}

function scanHalf(bytes: Uint8Array, mask: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const n = Math.floor(bytes.length / 2);
  for (let i = 0; i < n; i++) {
    if ((view.getUint16(i * 2, true) & mask) === mask) return i;
  }
  return -1;
}

function scanBytes(bytes: Uint8Array, bad: (b: number) => boolean): number {
  for (let i = 0; i < bytes.length; i++) if (bad(bytes[i] as number)) return i;
  return -1;
}
