/** The value of one hex digit octet (either case), or -1. */
export function hexValue(octet: number | undefined): number {
  if (octet === undefined) return -1
  if (octet >= 0x30 && octet <= 0x39) return octet - 0x30
  const lower = octet | 0x20
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10
  return -1
}

/**
 * Undoes `escapeOctet` + two hex digits (RFC 2047 §4.2 Q "=XX", RFC 2231 §7 "%XX"); an escape
 * without two hex digits after it stays as written. With `underscoreIsSpace` (Q encoding),
 * "_" is 0x20.
 */
export function decodeHexEscapes(
  input: Uint8Array,
  escapeOctet: number,
  underscoreIsSpace = false,
): Buffer {
  const output = Buffer.alloc(input.length)
  let length = 0
  for (let i = 0; i < input.length; i += 1) {
    let octet = input[i] ?? 0
    if (octet === 0x5f && underscoreIsSpace) {
      octet = 0x20
    } else if (octet === escapeOctet) {
      const high = hexValue(input[i + 1])
      const low = hexValue(input[i + 2])
      if (high >= 0 && low >= 0) {
        octet = (high << 4) | low
        i += 2
      }
    }
    output[length] = octet
    length += 1
  }
  return output.subarray(0, length)
}
