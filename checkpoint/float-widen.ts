/**
 * float16 and bfloat16 bytes widened to float32, exactly (every half and bfloat16 value is a float32
 * value, NaN and ±Inf included): how weights stored in half precision are read where float32 is
 * wanted. Pure: it converts bytes it is given and reads nothing.
 */

let halfTable: Float32Array | undefined;

/** float32 value of every float16 bit pattern (256 KiB, built on first use). */
function halfToFloat32Table(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    table[h] =
      exponent === 0
        ? sign * fraction * 2 ** -24
        : exponent === 0x1f
          ? fraction === 0
            ? sign * Infinity
            : NaN
          : sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  halfTable = table;
  return table;
}

/** Little-endian float16 `bytes` (2-byte aligned in their buffer) as float32 values. */
export function widenFloat16(bytes: Uint8Array): Float32Array {
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
  const table = halfToFloat32Table();
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = table[halves[i] as number] as number;
  return out;
}

/** Little-endian bfloat16 `bytes` (2-byte aligned in their buffer) as float32 values: the upper half of each. */
export function widenBfloat16(bytes: Uint8Array): Float32Array {
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
  const out = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = (halves[i] as number) << 16;
  return new Float32Array(out.buffer);
}
