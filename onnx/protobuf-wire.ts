/**
 * The protobuf wire format, as far as the streaming writer and the reader's scanner need it: varints,
 * length-delimited field headers and the onnx.proto field numbers they place by hand. Everything else
 * about ONNX messages is onnx-proto's (encode.ts, serialize-read.ts).
 */

// Protobuf wire type of length-delimited fields, and the onnx.proto field numbers written or scanned by hand.
export const WIRE_LEN = 2;
export const MODEL_GRAPH = 7;
export const GRAPH_INITIALIZER = 5;
export const TENSOR_RAW_DATA = 9;

export function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** Varint for non-negative lengths up to 2^53 (arithmetic, not bit ops, which stop at 2^31). */
export function varint(n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n));
  let i = 0;
  while (n >= 128) {
    out[i++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  out[i] = n;
  return out;
}

export function lenFieldHeader(field: number, length: number): Uint8Array {
  const tag = varint(field * 8 + WIRE_LEN);
  const len = varint(length);
  const out = new Uint8Array(tag.length + len.length);
  out.set(tag, 0);
  out.set(len, tag.length);
  return out;
}

export function lenFieldSize(field: number, length: number): number {
  return varintLength(field * 8 + WIRE_LEN) + varintLength(length) + length;
}
