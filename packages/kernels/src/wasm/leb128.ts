/**
 * LEB128, the variable-length integers of the WebAssembly binary format: 7 bits per byte, low
 * bits first, with the high bit of each byte set when more bytes follow.
 */

/** Encodes a non-negative integer below 2^32 as unsigned LEB128: 7 bits per byte, low bits first. */
export function unsignedLeb128(value: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`unsignedLeb128: expected an integer in [0, 2^32), got ${value}`);
  }

  const bytes: number[] = [];
  let rest = value;
  do {
    const low = rest % 128;
    rest = Math.floor(rest / 128);
    bytes.push(rest > 0 ? low | 0x80 : low);
  } while (rest > 0);
  return bytes;
}

/**
 * Encodes an integer in [-2^63, 2^63) as signed LEB128. The last byte's bit 6 is the sign, so
 * encoding stops once the rest is 0 with that bit clear, or -1 with it set.
 */
export function signedLeb128(value: number | bigint): number[] {
  let rest = BigInt(value);
  if (rest < -(1n << 63n) || rest >= 1n << 63n) throw new RangeError(`signedLeb128: ${value} does not fit in 64 bits`);

  const bytes: number[] = [];
  for (;;) {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    const signBitSet = (low & 0x40) !== 0;
    if ((rest === 0n && !signBitSet) || (rest === -1n && signBitSet)) {
      bytes.push(low);
      return bytes;
    }
    bytes.push(low | 0x80);
  }
}
