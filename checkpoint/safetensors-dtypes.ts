/**
 * The safetensors dtype table: element size and whether the type is a float (so it must be scanned
 * for NaN/Inf). Pure data; no I/O.
 */

export const SAFETENSORS_DTYPES = {
  F64: { bytes: 8, float: true },
  F32: { bytes: 4, float: true },
  F16: { bytes: 2, float: true },
  BF16: { bytes: 2, float: true },
  F8_E4M3: { bytes: 1, float: true },
  F8_E5M2: { bytes: 1, float: true },
  I64: { bytes: 8, float: false },
  I32: { bytes: 4, float: false },
  I16: { bytes: 2, float: false },
  I8: { bytes: 1, float: false },
  U64: { bytes: 8, float: false },
  U32: { bytes: 4, float: false },
  U16: { bytes: 2, float: false },
  U8: { bytes: 1, float: false },
  BOOL: { bytes: 1, float: false },
} as const;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPES;

export function isSafetensorsDtype(value: string): value is SafetensorsDtype {
  return Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPES, value);
}
